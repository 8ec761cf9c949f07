"""The realistic profile: layer shapes of real networks, their costs, plans and time budgets."""
import dataclasses
import json

import pytest
from hypothesis import given, settings

from parity.spec import realistic, registry
from parity.core.profiles import BUDGET_S, EXAMPLES, shapes_of
from parity.spec.sweep import NoRealisticShapes, case_strategy, plan_cases, realistic_ops

KIND_OF = {op: kind for op, kind in (
    ("conv1d_same", "conv1d"), ("conv2d_same", "conv2d"), ("depthwise_conv2d_same", "depthwise"),
    ("separable_conv2d_same", "separable"), ("conv1d_causal", "causal"),
    ("conv_transpose2d", "transpose_tf"), ("conv_transpose2d_torch", "transpose_torch"),
    ("max_pool2d_same", "pool"), ("avg_pool2d_same", "pool"), ("batch_norm", "norm"),
    ("group_norm", "group_norm"))}
DTYPES = ("float32", "float64", "float16", "bfloat16")


def test_the_ops_with_realistic_shapes_are_the_ones_the_profile_names():
    assert sorted(realistic_ops()) == sorted(KIND_OF)
    assert shapes_of("realistic") == "realistic" and shapes_of(None) == "small"
    assert EXAMPLES["realistic"] >= 1 and BUDGET_S["realistic"] <= 600


@pytest.mark.parametrize("kind", sorted(realistic.LAYERS))
def test_every_layer_fits_the_float32_cap_and_every_dtype_has_layers(kind):
    """A layer over the cap would never be drawn: the catalogue may not hold one; nor two
    layers of one geometry (one would never be named)."""
    geometries = [sorted(layer.fields.items()) for layer in realistic.LAYERS[kind]]
    assert all(geometries.count(g) == 1 for g in geometries)
    for layer in realistic.LAYERS[kind]:
        assert layer.cost(kind) <= realistic.CAP["float32"], (layer.network, layer.name)
    for dtype in DTYPES:
        assert realistic.affordable(kind, dtype), dtype


@pytest.mark.parametrize("op_name", sorted(KIND_OF))
def test_every_layer_is_a_valid_config_of_its_op(op_name):
    """Each layer, put into a config the op's small strategy drew, passes the op's checks."""
    op, kind = registry.get(op_name), KIND_OF[op_name]

    @settings(max_examples=1, database=None, deadline=None)
    @given(op.strategy(("float32",)))
    def base(config):
        for layer in realistic.LAYERS[kind]:
            shaped = dataclasses.replace(config, batch=1, **layer.fields)
            op.parse_config(shaped.to_dict())
            assert realistic.layer_of(kind, shaped) is layer
    base()


@pytest.mark.parametrize("op_name", sorted(KIND_OF))
def test_the_realistic_strategy_draws_catalogue_layers_within_the_cap(op_name):
    kind = KIND_OF[op_name]

    @settings(max_examples=15, database=None, deadline=None)
    @given(case_strategy(op_name, DTYPES, "realistic"))
    def check(pair):
        config, _ = pair
        layer = realistic.layer_of(kind, config)
        assert layer is not None, config
        assert 1 <= config.batch <= realistic.MAX_BATCH
        assert config.batch * layer.cost(kind) <= realistic.CAP[config.dtype]
        registry.get(op_name).parse_config(config.to_dict())
    check()


def test_a_config_off_the_catalogue_is_told_apart():
    """The check above can fail: a small config, or a layer with one field changed, is no layer."""
    layer = realistic.LAYERS["conv2d"][2]

    @settings(max_examples=5, database=None, deadline=None)
    @given(registry.get("conv2d_same").strategy(("float32",)))
    def check(config):
        assert realistic.layer_of("conv2d", config) is None
        shaped = dataclasses.replace(config, **layer.fields)
        assert realistic.layer_of("conv2d", shaped) is layer
        assert realistic.layer_of("conv2d", dataclasses.replace(shaped, stride=(2, 2))) is None
    check()


def test_float16_draws_only_what_its_cap_affords():
    big = max(realistic.LAYERS["conv2d"], key=lambda l: l.cost("conv2d"))
    assert big not in realistic.affordable("conv2d", "float16")
    assert big in realistic.affordable("conv2d", "float32")


def test_an_op_without_realistic_shapes_is_refused_in_one_line():
    with pytest.raises(NoRealisticShapes, match="conv3d_same has no realistic shapes; ops that "
                                                "have: .*conv2d_same"):
        case_strategy("conv3d_same", DTYPES, "realistic")


def test_the_realistic_plan_interleaves_the_ops_config_by_config():
    plan = plan_cases(["conv1d_same", "batch_norm"], ["port"], 2, 0, ["float32"],
                      shapes="realistic")
    assert [c[0] for c in plan] == ["conv1d_same", "batch_norm"] * 2
    small = plan_cases(["conv1d_same", "batch_norm"], ["port"], 2, 0, ["float32"])
    assert [c[0] for c in small] == ["conv1d_same"] * 2 + ["batch_norm"] * 2
    kinds = {c[0]: realistic.layer_of(KIND_OF[c[0]], registry.get(c[0]).parse_config(c[2]))
             for c in plan}
    assert all(kinds.values())


def test_the_plan_is_the_same_in_every_process():
    """Same seed, same realistic plan: what record and a later run against it rely on."""
    a = plan_cases(["depthwise_conv2d_same"], None, 3, 5, DTYPES, shapes="realistic")
    b = plan_cases(["depthwise_conv2d_same"], None, 3, 5, DTYPES, shapes="realistic")
    assert json.dumps(a) == json.dumps(b)


def test_a_spent_budget_ends_the_run_with_a_valid_partial_report(tmp_path):
    from parity.report import load_report
    from parity.flows.session import run_sweep

    report, path = run_sweep(["conv1d_same"], examples=2, seed=0, dtypes=["float32"],
                             variants=["port"], out_dir=tmp_path, shapes="realistic",
                             budget_s=1e-9)
    run = load_report(path)["run"]  # validates against the schema
    assert (run["budget_spent"], run["interrupted"], report["complete"]) == (True, False, False)
    assert run["shapes"] == "realistic" and report["cases"] == []


def test_a_budget_not_spent_changes_nothing(tmp_path):
    from parity.flows.session import run_sweep

    report, _ = run_sweep(["conv1d_same"], examples=1, seed=0, dtypes=["float32"],
                          variants=["port"], out_dir=tmp_path, shapes="realistic", budget_s=1e6)
    assert report["complete"] and "budget_spent" not in report["run"]
    assert len(report["cases"]) == 1 and report["cases"][0]["status"] == "pass"
    assert realistic.layer_of("conv1d", registry.get("conv1d_same").parse_config(
        report["cases"][0]["config"])) is not None


def test_the_last_config_memo_reuses_only_an_equal_key():
    from parity.exec.runner import _LastConfig

    calls = []
    memo = _LastConfig()

    def compute(v):
        return lambda: calls.append(v) or v
    assert memo.get("tf", ("f", "c1", 1), compute(1)) == 1
    assert memo.get("tf", ("f", "c1", 1), compute(2)) == 1   # the next variant: reused
    assert memo.get("tf", ("g", "c1", 1), compute(3)) == 3   # another TF side
    assert memo.get("tf", ("g", "c1", 2), compute(4)) == 4   # another seed
    assert memo.get("reference", ("g", "c1", 2), compute(5)) == 5  # slots are apart
    assert memo.get("tf", ("f", "c1", 1), compute(6)) == 6   # one entry: the first is gone
    assert calls == [1, 3, 4, 5, 6]


@pytest.mark.parametrize("argv, message", [
    (("run", "--profile", "realistic", "--ops", "conv3d_same"),
     "conv3d_same has no realistic shapes; ops that have: "),
    (("audit", "l2_normalize", "parity.ports:l2_normalize", "--profile", "realistic"),
     "l2_normalize has no realistic shapes"),
    (("run", "--budget", "0"), "--budget must be a positive number of seconds, got 0")])
def test_bad_realistic_input_exits_2_with_one_line(capsys, argv, message):
    from parity import cli

    code = cli.main(list(argv))
    err = capsys.readouterr().err
    assert code == 2 and message in err and err.count("\n") == 1, err


def test_record_and_run_against_it_keep_the_realistic_shapes(tmp_path, capsys):
    from parity import cli
    from parity.report.archive import Archive
    from parity.report import load_report

    flags = ["--profile", "realistic", "--ops", "conv1d_same", "--variants", "port,keras",
             "--examples", "1", "--dtypes", "float32"]
    assert cli.main(["record", "--out", str(tmp_path / "tf.npz")] + flags) == 0
    assert Archive(tmp_path / "tf.npz").shapes == "realistic"
    assert cli.main(["run", "--reference", str(tmp_path / "tf.npz"), "--out",
                     str(tmp_path / "ref")]) == 0
    assert cli.main(["run", "--out", str(tmp_path / "live"), "--budget", "1e-9"] + flags) == 0
    assert "budget: 1e-09 s spent" in capsys.readouterr().out
    ref = load_report(tmp_path / "ref" / "latest.json")
    assert ref["run"]["shapes"] == "realistic" and len(ref["cases"]) == 2
    assert all(c["status"] == "pass" for c in ref["cases"])
    live = load_report(tmp_path / "live" / "latest.json")
    assert live["run"]["budget_spent"] and not live["complete"]
