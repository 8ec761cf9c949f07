"""parity.ports against the float64 reference (torch only); a wrong port is caught."""
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings

from parity import ports
from parity.ops.conv import make_inputs, reference_and_bounds, strategy_for
from parity.core.tolerance import compare_output, output_failed

torch.set_num_threads(1)


def run_port(fn, c, inp):
    x = torch.tensor(inp["x"], requires_grad=True)
    w = torch.tensor(inp["w"], requires_grad=True)
    b = torch.tensor(inp["b"], requires_grad=True) if c.bias else None
    y = fn(x, w, b, c.stride, c.dilation, c.groups)
    if tuple(y.shape) != inp["dy"].shape:
        return {"y": y.detach().numpy()}
    y.backward(torch.tensor(inp["dy"]))
    out = {"y": y.detach().numpy(), "dx": x.grad.numpy(), "dw": w.grad.numpy()}
    if c.bias:
        out["db"] = b.grad.numpy()
    return out


def failures(fn, c, seed=0):
    inp = make_inputs(c, seed)
    ref, bnd = reference_and_bounds(c, inp)
    got = run_port(fn, c, inp)
    return [n for n in ref if output_failed(compare_output(ref[n], got.get(n), ref[n], bnd[n]))]


@pytest.mark.parametrize("rank", [1, 2, 3])
@settings(max_examples=25, deadline=None)
@given(data=__import__("hypothesis").strategies.data())
def test_port_matches_reference(rank, data):
    c = data.draw(strategy_for(rank)(("float64",)))
    fn = getattr(ports, f"conv{rank}d_same")
    assert failures(fn, c) == []


def wrong_port_extra_pixel_first(x, w, b, stride, dilation, groups):
    """Pads the odd pixel at the START (the mirror of TF)."""
    from parity.core.padding import same_paddings
    pads = same_paddings(x.shape[2:], w.shape[2:], stride, dilation)
    flat = []
    for p in reversed(pads):
        flat += [p.after, p.before]
    return F.conv2d(F.pad(x, flat), w, b, stride, 0, dilation, groups)


def test_mirrored_padding_port_is_caught():
    from parity.ops.conv import ConvConfig
    c = ConvConfig(rank=2, batch=1, in_channels=1, out_channels=1, spatial=(6, 6), kernel=(2, 2),
                   stride=(1, 1), dilation=(1, 1), bias=False, dtype="float64")
    assert failures(wrong_port_extra_pixel_first, c) != []
    assert failures(ports.conv2d_same, c) == []


def test_modules_match_functions():
    torch.manual_seed(0)
    m = ports.Conv2dSame(4, 6, kernel_size=(3, 4), stride=(2, 3), dilation=(1, 2), groups=2)
    x = torch.randn(2, 4, 9, 10)
    assert torch.equal(m(x), ports.conv2d_same(x, m.weight, m.bias, m.stride, m.dilation, 2))
    d = ports.DepthwiseConv2dSame(3, kernel_size=4, depth_multiplier=2, stride=2)
    assert tuple(d(torch.randn(1, 3, 7, 7)).shape) == (1, 6, 4, 4)
    assert tuple(ports.Conv1dSame(2, 3, 5, stride=3)(torch.randn(1, 2, 10)).shape) == (1, 3, 4)
    assert tuple(ports.Conv3dSame(2, 3, 2, stride=2)(torch.randn(1, 2, 5, 4, 3)).shape) == \
        (1, 3, 3, 2, 2)


def test_symmetric_padding_takes_the_no_copy_path():
    x, w = torch.randn(1, 1, 7, 7), torch.randn(1, 1, 3, 3)
    assert torch.equal(ports.conv2d_same(x, w), F.conv2d(x, w, padding=1))
