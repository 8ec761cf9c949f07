"""separable_conv2d_same: the op inherits the SAME-conv entries through its tag; the module is the
function (its port's audit and wrong ports: test_audit_ports)."""

from parity.spec import registry
from parity.spec.divergences import Registry


def test_the_same_conv_tag_brings_the_padding_entries():
    assert "same-conv" in registry.get("separable_conv2d_same").tags
    inherited = {e.id for e in Registry.load().entries if "separable_conv2d_same" in e.ops}
    assert {"torch-same-padding-refuses-stride", "torch-symmetric-padding-k-over-2"} <= inherited


def test_module_matches_the_function():
    import torch

    from parity.ports import SeparableConv2dSame, separable_conv2d_same

    m = SeparableConv2dSame(2, 3, (3, 2), stride=2, depth_multiplier=2).double()
    x = torch.randn(1, 2, 7, 6, dtype=torch.float64)
    want = separable_conv2d_same(x, m.depthwise.weight, m.pointwise.weight, m.pointwise.bias,
                                 stride=2)
    assert m(x).shape == (1, 3, 4, 3) and torch.equal(m(x), want)
