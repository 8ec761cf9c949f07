"""Transposed-conv ports: TF windows reproduced for every output size; wrong crops are caught."""
import numpy as np
import torch
import torch.nn.functional as F
from hypothesis import given, settings, strategies as st

from parity.spec import registry
from parity.ports import transpose as P
from parity.spec.reference import conv_transpose_all
from parity.exec.runner import run_case

torch.set_num_threads(1)


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_port_matches_the_reference_window(data):
    c = data.draw(registry.get("conv_transpose2d").strategy(("float64",)))
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((1, c.in_channels, *c.spatial)), \
        rng.standard_normal((c.in_channels, c.out_channels, *c.kernel))
    y = P.conv_transpose2d_tf(torch.tensor(x), torch.tensor(w), None, c.stride, c.padding,
                              c.output_padding or None, c.dilation).numpy()
    ref = conv_transpose_all(x, w, None, np.zeros((1, c.out_channels, *c.out_spatial)), c.start,
                             c.out_spatial, c.stride, c.dilation)["y"]
    np.testing.assert_allclose(y, ref, rtol=1e-12, atol=1e-12)


def test_torch_args_exists_only_where_torch_can_express_tf():
    assert P.torch_args(5, 3, 1, 1) == (P.TorchArgs(1, 0), None)
    assert P.torch_args(5, 4, 2, 1) == (P.TorchArgs(1, 0), None)  # TF starts at 1, out 10
    args, reason = P.torch_args(5, 3, 2, 1)                         # the common 3x3 / stride 2
    assert args is None and "needs output_padding -1" in reason
    # where a pair exists, torch with it equals the port
    x, w = torch.randn(1, 2, 5, 5), torch.randn(2, 3, 4, 4)
    (pad, op), _ = P.torch_args(5, 4, 2, 1)
    assert torch.allclose(F.conv_transpose2d(x, w, None, 2, pad, op),
                          P.conv_transpose2d_tf(x, w, None, 2), atol=1e-6)


def test_module_matches_keras_sizes():
    m = P.ConvTranspose2dSame(2, 3, kernel_size=3, stride=2, padding="valid", output_padding=(1, 0))
    assert tuple(m(torch.zeros(1, 2, 4, 5)).shape) == (1, 3, 10, 11)


def shifted_crop(x, weight, bias, stride, padding, output_padding, dilation):
    """Crops the extra pixel at the start instead of the end: one pixel off."""
    y = P.conv_transpose2d_tf(F.pad(x, (0, 0, 0, 0)), weight, None, stride, padding,
                              output_padding, dilation)
    y = F.pad(y, (1, 0, 1, 0))[..., :-1, :-1]
    return y if bias is None else y + bias.reshape(1, -1, 1, 1)


def test_a_port_cropping_on_the_wrong_side_is_caught():
    cfg = {"rank": 2, "batch": 1, "in_channels": 2, "out_channels": 2, "spatial": [4, 3],
           "kernel": [3, 3], "stride": [2, 2], "dilation": [1, 1], "padding": "same",
           "bias": True, "dtype": "float32"}
    assert run_case("conv_transpose2d", "port", cfg, 1)["status"] == "pass"
    rec = run_case("conv_transpose2d", "audit", cfg, 1, candidate=shifted_crop)
    assert rec["status"] == "fail" and rec["outputs"]["y"]["farther"] == "torch"
    assert rec["outputs"]["y"]["max_abs_diff"] > 0.1


def test_tf_port_of_torch_semantics_and_a_wrong_one():
    from parity.backends import tf as B
    from parity.core import layout

    tf = B.tf()
    from parity.ports import tf as T

    x, w = np.random.default_rng(1).standard_normal((1, 2, 4, 5)), \
        np.random.default_rng(2).standard_normal((2, 3, 3, 2))
    want = F.conv_transpose2d(torch.tensor(x), torch.tensor(w), None, (2, 1), (1, 0), (1, 0)).numpy()
    xt = tf.constant(layout.channels_first_to_last(x))
    wt = tf.constant(layout.transpose_kernel_torch_to_tf(w))
    got = T.conv_transpose_torch(xt, wt, None, (2, 1), (1, 0), (1, 0)).numpy()
    np.testing.assert_allclose(layout.channels_last_to_first(got), want, atol=1e-12)
    # cropping 2*padding at the end instead of padding on each side is one pixel off
    wrong = T.conv_transpose_torch(xt, wt, None, (2, 1), (0, 0), (-1, 0)).numpy()
    assert wrong.shape == got.shape and np.abs(wrong - got).max() > 0.1
