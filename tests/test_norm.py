"""l2_normalize and weight-standardization ports: right ones pass, classic mistakes are caught."""
import torch
import torch.nn.functional as F

from parity.runner import run_case

L2 = {"shape": [3, 4], "axis": [1], "epsilon": 1e-12, "fill": "tiny", "dtype": "float32"}
WS = {"rank": 2, "out_channels": 3, "in_channels": 2, "kernel": [3, 3], "epsilon": 1e-5,
      "dtype": "float64"}


def test_l2_port_passes_and_torch_eps_semantics_is_caught():
    assert run_case("l2_normalize", "port", L2, 1)["status"] == "pass"
    rec = run_case("l2_normalize", "audit", L2, 1,
                   candidate=lambda x, dim, eps: F.normalize(x, 2.0, dim, eps))
    assert rec["status"] == "fail" and rec["outputs"]["y"]["mismatched"] > 0


def unbiased(w, eps):
    c = w - w.mean(dim=(1, 2, 3), keepdim=True)
    return c / (c.flatten(1).std(dim=1).view(-1, 1, 1, 1) + eps)


def eps_inside_sqrt(w, eps):
    c = w - w.mean(dim=(1, 2, 3), keepdim=True)
    return c / torch.sqrt((c * c).mean(dim=(1, 2, 3), keepdim=True) + eps)


def test_ws_port_passes_and_classic_mistakes_are_caught():
    assert run_case("weight_standardization", "port", WS, 2)["status"] == "pass"
    for wrong in (unbiased, eps_inside_sqrt):
        rec = run_case("weight_standardization", "audit", WS, 2, candidate=wrong)
        assert rec["status"] == "fail", wrong.__name__
        assert rec["outputs"]["y"]["bound_ratio"] > 100, wrong.__name__


def test_ws_port_gradient_is_zero_on_a_constant_channel():
    from parity.ports.norm import weight_standardize
    w = torch.ones(2, 1, 1, 1, requires_grad=True)
    weight_standardize(w).sum().backward()
    assert torch.equal(w.grad, torch.zeros_like(w))


GN = {"rank": 2, "batch": 2, "channels": 4, "spatial": [3, 3], "groups": 2, "epsilon": 1e-3,
      "offset": 0.0, "dtype": "float64"}


def test_group_and_layer_norm_ports_pass_and_torch_defaults_are_caught():
    assert run_case("group_norm", "port", GN, 6)["status"] == "pass"
    torch_eps = run_case("group_norm", "audit", GN, 6,  # torch's default eps 1e-5, not Keras's
                         candidate=lambda x, groups, w, b, eps: F.group_norm(x, groups, w, b))
    assert torch_eps["status"] == "fail"
    assert run_case("layer_norm", "port", dict(GN, groups=1), 6)["status"] == "pass"
    last_dim = run_case("layer_norm", "audit", dict(GN, groups=1, spatial=[3, 4]), 6,
                        candidate=lambda x, w, b, eps: F.layer_norm(x, (4,), w, b, eps))
    assert last_dim["status"] == "fail"   # W == C: runs, normalizes the wrong axis
