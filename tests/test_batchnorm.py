"""KerasBatchNorm port: right one passes; the classic porting mistakes are each caught."""
import functools

import torch

from parity.ports.batchnorm import KerasBatchNorm
from parity.exec.runner import run_case

CFG = {"rank": 2, "batch": 3, "channels": 2, "spatial": [3, 2], "keras_axis": -1,
       "mode": "train", "steps": 2, "momentum": 0.9, "epsilon": 1e-3, "offset": 0.0,
       "dtype": "float64"}


class Mistaken(KerasBatchNorm):
    """Batch norm in training mode with one deliberate porting mistake."""

    def __init__(self, size, dim, momentum, epsilon, mistake):
        super().__init__(size, dim, momentum, epsilon)
        self.mistake = mistake

    def forward(self, x):
        axes = [d for d in range(x.dim()) if d != self.dim]
        shape = [-1 if d == self.dim else 1 for d in range(x.dim())]
        mean = x.mean(dim=axes, keepdim=True)
        var = ((x - mean) ** 2).mean(dim=axes, keepdim=True)
        n = x.numel() // x.shape[self.dim]
        moving_var = var * n / (n - 1) if self.mistake == "unbiased moving variance" else var
        m = 1 - self.momentum if self.mistake == "momentum reversed" else self.momentum
        with torch.no_grad():
            self.moving_mean.copy_(self.moving_mean * m + mean.flatten() * (1 - m))
            self.moving_variance.copy_(self.moving_variance * m + moving_var.flatten() * (1 - m))
        if self.mistake == "epsilon outside the sqrt":
            scale = 1 / (torch.sqrt(var) + self.epsilon)
        else:
            scale = torch.rsqrt(var + self.epsilon)
        return (x - mean) * scale * self.gamma.view(shape) + self.beta.view(shape)


def test_port_passes():
    assert run_case("batch_norm", "port", CFG, 5)["status"] == "pass"
    assert run_case("batch_norm", "audit", CFG, 5, candidate=KerasBatchNorm)["status"] == "pass"
    no_mistake = functools.partial(Mistaken, mistake=None)
    assert run_case("batch_norm", "audit", CFG, 5, candidate=no_mistake)["status"] == "pass"


def test_each_classic_mistake_is_caught():
    for mistake, output in (("momentum reversed", "moving_mean0"),
                            ("unbiased moving variance", "moving_variance0"),
                            ("epsilon outside the sqrt", "y0")):
        rec = run_case("batch_norm", "audit", CFG, 5,
                       candidate=functools.partial(Mistaken, mistake=mistake))
        assert rec["status"] == "fail", mistake
        assert rec["outputs"][output]["mismatched"] > 0, mistake
