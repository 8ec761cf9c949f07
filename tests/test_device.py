"""--device, --tf32, --deterministic: refused without CUDA, recorded, and TF32 in the bounds."""
import json

import pytest

from parity import cli
from parity.core.numerics import unit_roundoff


def _cuda() -> bool:
    import torch
    return torch.cuda.is_available()


@pytest.mark.skipif(_cuda(), reason="this machine has a CUDA device")
@pytest.mark.parametrize("name", ["cuda", "gpu"])
def test_cuda_without_a_gpu_is_a_one_line_error(name, capsys):
    assert cli.main(["run", "--device", name, "--examples", "1", "--ops", "conv1d_same"]) == 2
    err = capsys.readouterr().err
    assert "sees no CUDA device" in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("device, tf32, u", [("cuda", "default", 2 ** -11),
                                             ("cuda", "on", 2 ** -11),
                                             ("cuda", "off", 2 ** -24),
                                             ("cpu", "on", 2 ** -24)])
def test_tf32_bounds_apply_on_cuda_unless_off(monkeypatch, device, tf32, u):
    """Where TF32 may compute, tensor-core outputs get TF32's roundoff as well (test_tf32); the
    float32 unit roundoff itself never changes."""
    from parity.backends.device import tf32_bounds
    from parity.core.numerics import TF32_UNIT_ROUNDOFF

    monkeypatch.setenv("PARITY_DEVICE", device)
    monkeypatch.setenv("PARITY_TF32", tf32)
    assert tf32_bounds() == (u == TF32_UNIT_ROUNDOFF)
    assert unit_roundoff("float32") == 2 ** -24 and unit_roundoff("float64") == 2 ** -53


def test_settings_are_applied_and_recorded(tmp_path):
    """In a process of its own (forked before either framework was configured): --tf32 off
    --deterministic reach both frameworks and the report."""
    from procs import run_parity

    out = run_parity(["run", "--ops", "conv1d_same", "--examples", "2", "--tf32", "off",
                      "--deterministic", "--out", str(tmp_path)])
    assert out.returncode == 0, out.stderr[-2000:]
    numerics = json.loads((tmp_path / "latest.json").read_text())["environment"]["numerics"]
    assert numerics["requested"] == {"device": "cpu", "tf32": "off", "deterministic": True}
    assert numerics["torch"]["deterministic_algorithms"] is True
    assert numerics["torch"]["allow_tf32_cudnn"] is False
    assert numerics["tensorflow"]["tf32"] is False and numerics["tf32_bounds"] is False
