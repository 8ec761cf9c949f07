"""Pooling ports against TF: padded cells must never count; wrong ports are caught."""
import torch
import torch.nn.functional as F

from parity.exec.runner import run_case

CFG = {"rank": 2, "batch": 2, "channels": 2, "spatial": [5, 7], "window": [2, 3],
       "stride": [2, 2], "fill": "uniform", "dtype": "float32"}


def test_max_port_passes_and_zero_padding_port_is_caught():
    assert run_case("max_pool2d_same", "port", CFG, 1)["status"] == "pass"

    def zero_padded(x, window, stride):  # pads with zeros: a 0 beats negative real cells
        return F.max_pool2d(F.pad(x, (1, 1, 0, 1)), window, stride)

    negative = dict(CFG, fill="uniform")
    rec = run_case("max_pool2d_same", "audit", negative, 1,
                   candidate=lambda x, window, stride: zero_padded(x - 2.0, window, stride) + 2.0)
    assert rec["status"] == "fail" and rec["outputs"]["y"]["farther"] == "torch"


def test_avg_port_passes_and_counting_padding_is_caught():
    assert run_case("avg_pool2d_same", "port", CFG, 2)["status"] == "pass"

    def counts_padding(x, window, stride):  # zero padding included in the divisor
        return F.avg_pool2d(F.pad(x, (1, 1, 0, 1)), window, stride)

    rec = run_case("avg_pool2d_same", "audit", CFG, 2, candidate=counts_padding)
    assert rec["status"] == "fail" and rec["outputs"]["y"]["mismatched"] > 0


def test_pool_ports_keep_every_windows_gradient_on_real_cells():
    from parity.ports import max_pool2d_same, max_pool3d_same
    x = torch.full((1, 1, 3, 3), float("-inf"), requires_grad=True)
    max_pool2d_same(x, 2, 2).sum().backward()
    assert x.grad.sum().item() == 4.0   # 4 windows, each routes its gradient to a real cell
    x3 = torch.tensor([float("nan")] * 3).reshape(1, 1, 1, 1, 3).requires_grad_(True)
    y3 = max_pool3d_same(x3, (1, 1, 3), (1, 1, 3))
    y3.sum().backward()
    assert torch.isnan(y3).all() and x3.grad.sum().item() == 1.0
