"""Parity suites: Hypothesis cases per op and variant, pinned cases, and measured mechanisms.

The number of cases per op and variant follows the Hypothesis profile
(``HYPOTHESIS_PROFILE=ci|dev|default|nightly|explore``).
"""
import json
from pathlib import Path

import pytest
from hypothesis import given

from parity.spec import registry
from parity.core.tolerance import describe_failure, output_failed
from parity.spec.divergences import Registry
from parity.report.build import unexpected
from parity.exec.runner import run_case
from parity.spec.sweep import case_strategy

DIVERGENCES = Registry.load()
PINNED = [case for path in sorted(Path(__file__).parent.glob("pinned_*.json"))
          for case in json.loads(path.read_text())]
OP_VARIANTS = [(op, v) for op in registry.names() for v in registry.get(op).variants]


def explain(rec) -> str:
    lines = [f"{rec['op']}/{rec['variant']} {rec['status']}: {rec['config']} seed={rec['seed']}",
             *(f"{side} refused: {msg}" for side, msg in rec["rejections"].items())]
    lines += [describe_failure(rec["op"], rec["id"], n, m) for n, m in rec["outputs"].items()
              if output_failed(m)]
    return "\n".join(lines + [rec["error"] or ""])


@pytest.mark.parametrize("op, variant", OP_VARIANTS)
def test_every_case_is_as_expected(op, variant):
    @given(case_strategy(op, ("float32", "float64", "float16", "bfloat16")))
    def check(pair):
        config, seed = pair
        rec = run_case(op, variant, config.to_dict(), seed, divergences=DIVERGENCES)
        assert not unexpected(rec), explain(rec)
    check()


@pytest.mark.parametrize("case", PINNED, ids=[f"{c['op']}-{c['variant']}-{c['seed']}" for c in PINNED])
def test_pinned(case):
    if case.get("environment"):  # TF's answer there depends on the CPU kernels
        from parity.spec.divergences import ENVIRONMENT_NAMES
        from parity.backends.environment import facts
        from parity.core.predicate import Predicate
        env = facts()
        if not Predicate(case["environment"], ENVIRONMENT_NAMES)(
                dict(env, dtype=case["config"].get("dtype"))):
            pytest.skip(f"pinned on another environment: {case['environment']} ({env})")
    rec = run_case(case["op"], case["variant"], case["config"], case["seed"],
                   divergences=DIVERGENCES)
    scoped = DIVERGENCES.get(rec["divergence"]) if rec["divergence"] else None
    if (rec["status"], rec["divergence"]) != (case["status"], case["divergence"]) and \
            scoped is not None and scoped.environment != "True":
        pytest.skip(f"{scoped.id} applies on this machine ({scoped.environment}); the pinned "
                    "status is another machine's")
    assert (rec["status"], rec["divergence"]) == (case["status"], case["divergence"]), \
        f"{case['why']}\n{explain(rec)}"


@pytest.mark.parametrize("spatial, kernel, stride", [
    ((1, 1, 3), (1, 1, 1), (1, 1, 3)), ((3, 12, 4), (6, 2, 3), (4, 4, 4)),
    ((4, 7, 12), (2, 3, 3), (4, 4, 4))])
def test_conv3d_negative_padding_mechanism(spatial, kernel, stride):
    """The registry's explanation of tf-cpu-conv3d-negative-same-padding, measured.

    TF's output must equal the convolution of the input cropped by trunc(t/2) at the start
    (t = the unclamped SAME total), and differ from true SAME. If TF fixes the bug this fails,
    and the entry must go.
    """
    import numpy as np

    from parity.ops.conv import ConvConfig, make_inputs, tf_nn
    from parity.spec.reference import conv_forward

    c = ConvConfig(rank=3, batch=1, in_channels=2, out_channels=2, spatial=spatial, kernel=kernel,
                   stride=stride, dilation=(1, 1, 1), bias=False, dtype="float64")
    inp = make_inputs(c, 5)
    x, pads = inp["x"], []
    for axis, (n, k, s) in enumerate(zip(spatial, kernel, stride)):
        out = -(-n // s)
        before = int(((out - 1) * s + k - n) / 2)  # C truncation of the unclamped total
        if before < 0:
            x, n, before = np.take(x, range(-before, n), axis=2 + axis), n + before, 0
        pads.append((before, max((out - 1) * s + k - (n + before), 0)))
    tf_y = tf_nn(c, inp)["y"]
    np.testing.assert_allclose(tf_y, conv_forward(x, inp["w"], pads, stride, (1, 1, 1), 1),
                               rtol=0, atol=1e-12)
    assert np.abs(tf_y - conv_forward(inp["x"], inp["w"], c.pads, stride, (1, 1, 1), 1)).max() > 0.1


def test_tf_max_pool_skips_nan_and_floors_at_lowest():
    """The rule parity.ports implements for 1-D/2-D max pooling, measured on TF itself."""
    import numpy as np

    from parity.backends import tf as B

    tf = B.tf()
    # oneDNN's native half-precision kernels give -inf instead (registered, environment-scoped)
    half_inf = DIVERGENCES.get("tf-onednn-half-maxpool-below-lowest")
    # oneDNN capped below AVX-512 on an AVX-512 CPU has no bfloat16 pooling: TF refuses it
    capped = DIVERGENCES.get("tf-onednn-bfloat16-isa-capped-below-avx512")
    x = np.array([np.nan, 2.0, -np.inf, -np.inf, np.nan, np.nan]).reshape(1, 1, 6, 1)
    for dtype in ("float32", "float64", "float16", "bfloat16"):
        if dtype == "bfloat16" and capped.in_environment(dtype=dtype):
            with pytest.raises(Exception, match="could not create a descriptor"):
                tf.nn.max_pool2d(tf.cast(x, dtype), (1, 2), (1, 2), "SAME")
            continue
        y = tf.nn.max_pool2d(tf.cast(x, dtype), (1, 2), (1, 2), "SAME")
        lowest = float(tf.cast(tf.constant(float(tf.as_dtype(dtype).min), dtype), "float64"))
        if half_inf.in_environment(dtype=dtype) and dtype in ("float16", "bfloat16"):
            lowest = -np.inf
        assert tf.cast(y, "float64").numpy().ravel().tolist() == [2.0, lowest, lowest], dtype


def test_generic_tf_pool_on_5d_input_has_no_gradient():
    """tf.nn.max_pool/avg_pool on 5-D input leave data_format unset; the 3-D gradient functions in
    tensorflow/python/ops/nn_grad.py call op.get_attr("data_format").decode() and fail. The
    harness therefore uses tf.nn.{max,avg}_pool3d. If this stops failing, TF fixed it."""
    import numpy as np

    from parity.backends import tf as B

    tf = B.tf()
    for fn in (tf.nn.max_pool, tf.nn.avg_pool):
        x = tf.constant(np.ones((1, 2, 2, 2, 1), "float32"))
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = fn(x, 2, 2, "SAME")
        with pytest.raises(AttributeError, match="decode"):
            tape.gradient(y, x)


def test_seed002_std_mechanism():
    """seed002-unbiased-std, measured: torch's snippet / Keras's = (std_b + eps) / (std_u + eps)."""
    import numpy as np

    from parity.ops.norm import WSConfig, tf_ws_seed, torch_ws_seed, ws_inputs

    c = WSConfig(rank=2, out_channels=3, in_channels=2, kernel=(3, 3), dtype="float64")
    inp = ws_inputs(c, 4)
    keras_y, torch_y = tf_ws_seed(c, inp)["y"], torch_ws_seed(c, inp)["y"]
    centered = inp["w"] - inp["w"].mean(axis=(1, 2, 3), keepdims=True)
    n = centered[0].size
    biased = np.sqrt((centered ** 2).mean(axis=(1, 2, 3), keepdims=True))
    unbiased = biased * np.sqrt(n / (n - 1))
    ratio = np.broadcast_to((biased + 1e-5) / (unbiased + 1e-5), keras_y.shape)
    np.testing.assert_allclose(torch_y / keras_y, ratio, rtol=1e-12)
