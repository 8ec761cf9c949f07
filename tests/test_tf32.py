"""TF32 widens only what tensor cores compute: a conv output over the float32 bound but within
TF32's is reported (status ``tf32``), not passed silently; norms, sums and everything on CPU keep
the float32 bound."""
import pytest

from parity.spec import registry
from parity.core.numerics import unit_roundoff
from parity.exec.runner import _judge, base_record

CONV = {"rank": 2, "batch": 1, "in_channels": 2, "out_channels": 3, "spatial": [5, 6],
        "kernel": [3, 2], "stride": [2, 1], "dilation": [1, 1], "groups": 1, "bias": True,
        "dtype": "float32"}
NORM = {"rank": 2, "batch": 2, "channels": 4, "spatial": [3, 3], "groups": 2, "epsilon": 1e-3,
        "dtype": "float32"}


@pytest.fixture
def cuda_tf32(monkeypatch):
    monkeypatch.setenv("PARITY_DEVICE", "cuda")
    monkeypatch.setenv("PARITY_TF32", "default")


def _judged(op_name: str, config: dict, output: str, times_the_bound: float) -> dict:
    """The record when torch's ``output`` is off the exact value by ``times_the_bound`` float32
    bounds (everything else exact, TF exact)."""
    op = registry.get(op_name)
    cfg = op.parse_config(config)
    inputs = op.make_inputs(cfg, 3)
    ref, bounds = op.reference(cfg, inputs)
    torch_out = dict(ref, **{output: ref[output] + times_the_bound * bounds[output]})
    rec = base_record(op_name, "port", config, 3, None, "cuda", None)
    _judge(rec, op, cfg, inputs, (dict(ref), None), (torch_out, None), False, set(), False)
    return rec


def test_a_conv_output_within_tf32_is_reported_as_tf32(cuda_tf32):
    rec = _judged("conv2d_same", CONV, "y", 100.0)
    y = rec["outputs"]["y"]
    assert rec["status"] == "tf32" and y["within_tf32"] and y["mismatched"] > 0
    assert y["bound_ratio"] == pytest.approx(100.0, rel=1e-3)
    assert y["bound_ratio_tf32"] == pytest.approx(100.0 * 2 ** -13, rel=1e-3)
    assert all("bound_ratio_tf32" in m for m in rec["outputs"].values())


@pytest.mark.parametrize("op_name, config, output, times", [
    ("conv2d_same", CONV, "y", 10_000.0),    # beyond TF32's bound too
    ("conv2d_same", CONV, "db", 100.0),      # a sum of dy: no tensor core computes it
    ("group_norm", NORM, "y", 100.0),        # a norm keeps the float32 bound
])
def test_what_tf32_does_not_explain_fails(cuda_tf32, op_name, config, output, times):
    rec = _judged(op_name, config, output, times)
    assert rec["status"] == "fail", rec["outputs"][output]
    assert "within_tf32" not in rec["outputs"][output]


@pytest.mark.parametrize("device, tf32", [("cpu", "default"), ("cuda", "off")])
def test_without_tf32_the_float32_bound_judges(monkeypatch, device, tf32):
    monkeypatch.setenv("PARITY_DEVICE", device)
    monkeypatch.setenv("PARITY_TF32", tf32)
    rec = _judged("conv2d_same", CONV, "y", 100.0)
    assert rec["status"] == "fail" and "bound_ratio_tf32" not in rec["outputs"]["y"]
    assert unit_roundoff("float32") == 2 ** -24


def test_tf32_outputs_must_be_outputs():
    import dataclasses

    from parity.spec.registry import RegistrationError

    op = dataclasses.replace(registry.get("conv2d_same"), name="x7", tf32_outputs=("z",))
    with pytest.raises(RegistrationError, match="tf32_outputs z are not outputs"):
        registry.register(op)
