"""TensorFlow ``padding="SAME"`` convolution for PyTorch, every stride and dilation.

TF pads ``total = max((ceil(n/s) - 1)*s + (k-1)*d + 1 - n, 0)`` per dimension
and puts the odd extra pixel at the end (``parity.core.padding``). PyTorch's integer
padding is symmetric and its ``padding="same"`` refuses ``stride > 1``, so the
port pads explicitly when the split is uneven and otherwise passes the
symmetric amount to the convolution itself (no extra copy).

Arguments follow ``torch.nn.functional.conv{1,2,3}d`` without ``padding``:
NC(D)(H)W input, ``(out, in/groups, *k)`` weight.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F

from parity.core.padding import as_tuple, same_paddings

__all__ = ["conv1d_same", "conv2d_same", "conv3d_same", "depthwise_conv2d_same", "pad_same",
           "conv1d_causal", "Conv1dSame", "Conv2dSame", "Conv3dSame", "DepthwiseConv2dSame",
           "Conv1dCausal", "separable_conv2d_same", "SeparableConv2dSame"]

_CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}


def pad_same(x: torch.Tensor, kernel: Sequence[int], stride: Sequence[int],
             dilation: Sequence[int], value: float = 0.0) -> torch.Tensor:
    """Pad ``x`` (N, C, *spatial) exactly as TF SAME would, with ``value``.

    >>> pad_same(torch.zeros(1, 1, 7), (4,), (2,), (1,)).shape[-1]   # 1 before, 2 after
    10
    """
    pads = same_paddings(x.shape[2:], kernel, stride, dilation)
    flat: list[int] = []
    for p in reversed(pads):
        flat += [p.before, p.after]
    return F.pad(x, flat, value=value) if any(flat) else x


def _conv_same(rank: int, x, weight, bias, stride, dilation, groups):
    stride = as_tuple(stride, rank, "stride")
    dilation = as_tuple(dilation, rank, "dilation")
    kernel = tuple(weight.shape[2:])
    pads = same_paddings(x.shape[2:], kernel, stride, dilation)
    if all(p.before == p.after for p in pads):
        return _CONV[rank](x, weight, bias, stride, tuple(p.before for p in pads), dilation, groups)
    return _CONV[rank](pad_same(x, kernel, stride, dilation), weight, bias, stride, 0, dilation,
                       groups)


def conv1d_same(x, weight, bias=None, stride=1, dilation=1, groups=1):
    """``tf.nn.conv1d(..., padding="SAME")`` on NCW / OIW tensors."""
    return _conv_same(1, x, weight, bias, stride, dilation, groups)


def conv2d_same(x, weight, bias=None, stride=1, dilation=1, groups=1):
    """``tf.nn.conv2d(..., padding="SAME")`` on NCHW / OIHW tensors.

    >>> y = conv2d_same(torch.ones(1, 1, 4, 4), torch.ones(1, 1, 2, 2))
    >>> y[0, 0, -1].tolist()        # TF pads the extra row/column at the end only
    [2.0, 2.0, 2.0, 1.0]
    """
    return _conv_same(2, x, weight, bias, stride, dilation, groups)


def conv3d_same(x, weight, bias=None, stride=1, dilation=1, groups=1):
    """``tf.nn.conv3d(..., padding="SAME")`` on NCDHW / OIDHW tensors."""
    return _conv_same(3, x, weight, bias, stride, dilation, groups)


def depthwise_conv2d_same(x, weight, bias=None, stride=1, dilation=1):
    """``tf.nn.depthwise_conv2d(..., padding="SAME")`` on NCHW input.

    ``weight`` is ``(C*M, 1, kh, kw)``; convert a TF ``(kh, kw, C, M)`` filter with
    ``parity.core.layout.depthwise_tf_to_torch``.
    """
    return _conv_same(2, x, weight, bias, stride, dilation, x.shape[1])


def conv1d_causal(x, weight, bias=None, stride=1, dilation=1, groups=1):
    """Keras ``Conv1D(padding="causal")`` on NCW / OIW tensors: ``d*(k-1)`` zeros before the
    sequence, none after; output length ``ceil(n/s)`` for every stride.

    >>> y = conv1d_causal(torch.arange(4.0).reshape(1, 1, 4), torch.ones(1, 1, 2))
    >>> y[0, 0].tolist()            # y[t] = x[t-1] + x[t]
    [0.0, 1.0, 3.0, 5.0]
    """
    stride = as_tuple(stride, 1, "stride")
    dilation = as_tuple(dilation, 1, "dilation")
    pad = (weight.shape[-1] - 1) * dilation[0]
    return F.conv1d(F.pad(x, (pad, 0)) if pad else x, weight, bias, stride, 0, dilation, groups)


def separable_conv2d_same(x, depthwise_weight, pointwise_weight, bias=None, stride=1,
                          dilation=1):
    """``tf.nn.separable_conv2d(..., padding="SAME")`` (Keras ``SeparableConv2D``) on NCHW input:
    the SAME depthwise convolution ``groups=C`` then a 1x1 convolution, then the bias.

    ``depthwise_weight`` is ``(C*M, 1, kh, kw)`` (convert TF's ``(kh, kw, C, M)`` with
    ``parity.core.layout.depthwise_tf_to_torch``), ``pointwise_weight`` ``(out, C*M, 1, 1)``.

    >>> x = torch.ones(1, 2, 5, 5)
    >>> y = separable_conv2d_same(x, torch.ones(2, 1, 2, 2), torch.ones(3, 2, 1, 1), stride=2)
    >>> tuple(y.shape), y[0, 0, -1].tolist()     # TF pads the odd row/column at the end
    ((1, 3, 3, 3), [4.0, 4.0, 2.0])
    """
    h = _conv_same(2, x, depthwise_weight, None, stride, dilation, x.shape[1])
    return F.conv2d(h, pointwise_weight, bias)


class _SameMixin:
    _rank = 2

    def forward(self, x):  # noqa: D401 - torch signature
        return _conv_same(self._rank, x, self.weight, self.bias, self.stride, self.dilation,
                          self.groups)


class Conv1dSame(_SameMixin, torch.nn.Conv1d):
    """``torch.nn.Conv1d`` with Keras ``Conv1D(padding="same")`` semantics (no ``padding``)."""
    _rank = 1


class Conv1dCausal(torch.nn.Conv1d):
    """``torch.nn.Conv1d`` with Keras ``Conv1D(padding="causal")`` semantics (no ``padding``)."""

    def forward(self, x):  # noqa: D401 - torch signature
        return conv1d_causal(x, self.weight, self.bias, self.stride, self.dilation, self.groups)


class SeparableConv2dSame(torch.nn.Module):
    """Keras ``SeparableConv2D(padding="same")``: ``depthwise`` (no bias) then ``pointwise``."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, dilation=1,
                 depth_multiplier: int = 1, bias: bool = True):
        super().__init__()
        self.depthwise = DepthwiseConv2dSame(in_channels, kernel_size, depth_multiplier,
                                             stride=stride, dilation=dilation, bias=False)
        self.pointwise = torch.nn.Conv2d(in_channels * depth_multiplier, out_channels, 1,
                                         bias=bias)

    def forward(self, x):  # noqa: D401 - torch signature
        return self.pointwise(self.depthwise(x))


class Conv2dSame(_SameMixin, torch.nn.Conv2d):
    """``torch.nn.Conv2d`` with Keras ``Conv2D(padding="same")`` semantics.

    >>> m = Conv2dSame(3, 8, kernel_size=3, stride=2)
    >>> tuple(m(torch.zeros(1, 3, 9, 10)).shape)
    (1, 8, 5, 5)
    """
    _rank = 2


class Conv3dSame(_SameMixin, torch.nn.Conv3d):
    """``torch.nn.Conv3d`` with Keras ``Conv3D(padding="same")`` semantics."""
    _rank = 3


class DepthwiseConv2dSame(Conv2dSame):
    """Keras ``DepthwiseConv2D(padding="same", depth_multiplier=M)`` as a grouped conv."""

    def __init__(self, channels: int, kernel_size, depth_multiplier: int = 1, stride=1,
                 dilation=1, bias: bool = True):
        super().__init__(channels, channels * depth_multiplier, kernel_size, stride=stride,
                         dilation=dilation, groups=channels, bias=bias)
