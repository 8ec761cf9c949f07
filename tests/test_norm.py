"""l2_normalize and weight-standardization ports: right ones pass, classic mistakes are caught."""
import torch
import torch.nn.functional as F

from parity.spec.divergences import Registry
from parity.exec.runner import run_case

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


HUGE = {"shape": [3, 4], "axis": [1], "epsilon": 1e-12, "fill": "huge", "dtype": "float32"}


def tf_style_l2(x, dim, eps):
    """TF's own kernel, written in torch: squares unscaled, in x's dtype."""
    return x * torch.rsqrt(torch.clamp(torch.sum(x * x, dim=dim, keepdim=True), min=eps))


def float64_l2(x, dim, eps):
    """A correct implementation written otherwise: float64 arithmetic, norm by linalg."""
    d = x.double()
    norm = torch.linalg.vector_norm(d, dim=dim, keepdim=True)
    return (d / torch.sqrt(torch.clamp(norm * norm, min=eps))).to(x.dtype)


def test_l2_port_scales_before_squaring_where_tf_overflows():
    rec = run_case("l2_normalize", "port", HUGE, 1, divergences=Registry.load())
    assert rec["status"] == "known_divergence"
    assert rec["divergence"] == "tf-l2-normalize-unscaled-squares"
    y = rec["outputs"]["y"]
    assert y["judge"] == "reference" and y["mismatched"] == 0
    assert y["versus_tf"]["mismatched"] > 0   # TF's squares overflowed: its y is 0
    assert float64_l2(torch.tensor([3e19, 4e19]), 0, 1e-12).tolist() == [0.6000000238418579,
                                                                     0.800000011920929]


def test_l2_audit_catches_unscaled_squares_and_accepts_a_float64_implementation():
    wrong = run_case("l2_normalize", "audit", HUGE, 1, candidate=tf_style_l2,
                     divergences=Registry.load())
    assert wrong["status"] == "fail" and wrong["outputs"]["y"]["judge"] == "reference"
    right = run_case("l2_normalize", "audit", HUGE, 1, candidate=float64_l2,
                     divergences=Registry.load())
    assert right["status"] == "known_divergence", right["outputs"]


def test_l2_port_is_within_the_reference_bound_in_float16_where_tf_is_not():
    tiny = {"shape": [2, 5], "axis": [1], "epsilon": 1e-12, "fill": "tiny", "dtype": "float16"}
    seen = [run_case("l2_normalize", "port", tiny, s, divergences=Registry.load()) for s in range(6)]
    assert all(r["status"] in ("pass", "known_divergence") for r in seen)
    assert all(m["mismatched"] == 0 for r in seen for m in r["outputs"].values())


def test_ws_gradient_on_a_single_element_channel_is_judged_by_the_reference_in_float16():
    one = dict(WS, in_channels=1, kernel=[1, 1], dtype="float16")
    recs = [run_case("weight_standardization", "port", one, s,
                     divergences=Registry.load()) for s in range(4)]
    assert all(r["outputs"]["dw"]["judge"] == "reference" for r in recs)
    assert all(r["outputs"]["dw"]["mismatched"] == 0 for r in recs)   # 0, as the limit is
    nan_grad = run_case("weight_standardization", "audit", one, 0, divergences=Registry.load(),
                        # sqrt'(0) * 0 on purpose
                        candidate=lambda w, eps: (w - w.mean(dim=(1, 2, 3), keepdim=True)) / (
                            (w - w.mean(dim=(1, 2, 3), keepdim=True)).pow(2).mean(
                                dim=(1, 2, 3), keepdim=True).sqrt() + eps))
    assert nan_grad["status"] == "fail"


def test_ws_port_keeps_subnormal_float16_variances():
    """A float16 channel whose variance is below float16's smallest normal (6.1e-5): clamping
    it there, as the port once did, made dw 44 where the reference has 0.11."""
    case = {"rank": 1, "out_channels": 2, "in_channels": 1, "kernel": [2], "epsilon": 1e-5,
            "dtype": "float16"}
    assert run_case("weight_standardization", "port", case, 6)["status"] == "pass"
