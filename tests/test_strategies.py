"""Strategies are valid by construction, cover what the sweep must exercise, and are deterministic;
a crippled strategy is caught by the same coverage check."""
import pytest
from hypothesis import given, settings, strategies as st

from parity.spec import registry
from parity.ops.conv import coverage
from parity.spec.sweep import draw_configs, plan_cases

RANKED = {"conv1d_same": 1, "conv2d_same": 2, "conv3d_same": 3, "depthwise_conv2d_same": 2}
NOT_FOR = {1: {"non-square input", "unequal strides"}, 3: set(), 2: set()}


def gaps(configs, rank, depthwise=False):
    skip = NOT_FOR[rank] | ({"groups > 1"} if depthwise else set())
    return sorted(k for k, v in coverage(configs).items() if v == 0 and k not in skip)


@pytest.mark.parametrize("op", sorted(RANKED))
def test_strategy_covers_every_feature(op):
    configs = [c for c, _ in draw_configs(op, 300, seed=0, dtypes=("float32", "float64",
                                                                   "float16", "bfloat16"))]
    assert len(configs) >= 250
    assert gaps(configs, RANKED[op], op.startswith("depthwise")) == []
    assert {c.groups for c in configs} - {1} or op.startswith("depthwise")


@pytest.mark.parametrize("op", sorted(RANKED))
@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_drawn_configs_are_valid_and_same_sized(op, data):
    o = registry.get(op)
    config = data.draw(o.strategy(("float32",)))
    assert o.parse_config(config.to_dict()) == config
    assert config.out_spatial == tuple(-(-n // s) for n, s in zip(config.spatial, config.stride))
    assert all(1 <= k <= 7 for k in config.kernel) and all(1 <= s <= 4 for s in config.stride)
    assert all(1 <= d <= 3 for d in config.dilation) and 1 <= config.batch <= 4


def test_a_crippled_strategy_is_caught():
    strategy = registry.get("conv2d_same").strategy(("float32",))
    only_stride_1 = strategy.filter(lambda c: max(c.stride) == 1)
    only_odd = strategy.filter(lambda c: all(k % 2 for k in c.kernel))

    @settings(max_examples=150, deadline=None, database=None)
    @given(st.lists(only_stride_1, min_size=1, max_size=1), st.lists(only_odd, min_size=1, max_size=1))
    def collect(a, b):
        drawn_a.extend(a)
        drawn_b.extend(b)

    drawn_a, drawn_b = [], []
    collect()
    assert "stride > 1" in gaps(drawn_a, 2)
    assert "even kernel" in gaps(drawn_b, 2)


def test_plans_are_deterministic_per_seed():
    ids = lambda seed: [(op, v, str(c), s) for op, v, c, s in
                        plan_cases(["conv1d_same"], None, 10, seed, ("float32",))]
    assert ids(3) == ids(3)
    assert ids(3) != ids(4)


def test_a_plan_does_not_depend_on_the_modules_loaded():
    """Hypothesis mines literals from loaded local modules; plans must not change with them."""
    import subprocess
    import sys

    script = ("from parity.spec.sweep import plan_cases\n"
              "import json, sys\n"
              "{extra}\n"
              "print(json.dumps(plan_cases(['conv2d_same', 'init_he_uniform'], None, 8, 5,"
              " ('float32', 'float64'))))")
    plans = [subprocess.run([sys.executable, "-c", script.format(extra=extra)], text=True,
                            capture_output=True, check=True).stdout
             for extra in ("", "import parity.exec.runner, parity.core.stats, parity.report.html, "
                               "parity.flows.regress, parity.flows.session, parity.ports.init")]
    assert plans[0] == plans[1] and len(plans[0]) > 100
