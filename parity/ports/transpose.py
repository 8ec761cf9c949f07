"""Keras/TF transposed convolution for PyTorch, and the argument translation between them.

TF's ``conv_transpose`` returns the window ``[start, start + out)`` of the full result
(length ``L = (n-1)*s + (k-1)*d + 1``), where ``out`` is the requested output size and
``start`` the SAME/VALID padding-before of a convolution whose input has size ``out``.
Keras picks ``out`` with ``deconv_output_length``. Torch returns the window
``[padding, padding + out)`` with ``out = L - 2*padding + output_padding``, and needs
``0 <= output_padding < max(stride, dilation)``: so a torch pair exists only when
``start`` and ``out`` happen to fit that form. ``torch_args`` says which.
"""
from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F

from parity.core.padding import as_tuple, keras_output_length, tf_window_start

__all__ = ["conv_transpose1d_tf", "conv_transpose2d_tf", "conv_transpose3d_tf",
           "ConvTranspose2dSame", "torch_args", "TorchArgs"]

_CONV_T = {1: F.conv_transpose1d, 2: F.conv_transpose2d, 3: F.conv_transpose3d}


class TorchArgs(NamedTuple):
    padding: int
    output_padding: int


def torch_args(n: int, k: int, s: int, d: int, padding: str = "same",
               output_padding: int | None = None, output_size: int | None = None):
    """The torch ``(padding, output_padding)`` reproducing Keras/TF exactly, or a reason why none does.

    Returns ``(TorchArgs, None)`` or ``(None, reason)``.

    >>> torch_args(4, 3, 1, 1)             # Conv2DTranspose(3, strides=1, padding="same")
    (TorchArgs(padding=1, output_padding=0), None)
    >>> torch_args(4, 3, 2, 1)[1]          # strides=2: TF pads nothing before, torch must pad >= 1
    'TF starts at 0 and needs output_padding -1 there; torch needs 0 <= output_padding < 2'
    """
    out = output_size if output_size is not None else keras_output_length(n, k, s, d, padding,
                                                                            output_padding)
    start = tf_window_start(out, k, s, d, padding)
    full = (n - 1) * s + (k - 1) * d + 1
    op = out - (full - 2 * start)
    if 0 <= op < max(s, d):
        return TorchArgs(start, op), None
    return None, (f"TF starts at {start} and needs output_padding {op} there; torch needs "
                  f"0 <= output_padding < {max(s, d)}")


def _conv_transpose_tf(rank, x, weight, bias, stride, padding, output_padding, dilation,
                       output_size):
    stride, dilation = as_tuple(stride, rank, "stride"), as_tuple(dilation, rank, "dilation")
    if output_padding is not None:
        output_padding = as_tuple(output_padding, rank, "output_padding")
    kernel, n = tuple(weight.shape[2:]), tuple(x.shape[2:])
    outs = output_size or [keras_output_length(n[i], kernel[i], stride[i], dilation[i], padding,
                                               None if output_padding is None else output_padding[i])
                           for i in range(rank)]
    starts = [tf_window_start(o, k, s, d, padding) for o, k, s, d in
              zip(outs, kernel, stride, dilation)]
    full = [(ni - 1) * s + (k - 1) * d + 1 for ni, k, s, d in zip(n, kernel, stride, dilation)]
    ops = [o - (f - 2 * st) for o, f, st in zip(outs, full, starts)]
    if all(0 <= op < max(s, d) for op, s, d in zip(ops, stride, dilation)):
        return _CONV_T[rank](x, weight, bias, stride, tuple(starts), tuple(ops), 1, dilation)
    # no torch pair: compute the full result, then take TF's window (zeros past the end)
    y = _CONV_T[rank](x, weight, None, stride, 0, 0, 1, dilation)
    extend = []
    for st, o, f in zip(reversed(starts), reversed(outs), reversed(full)):
        extend += [0, max(0, st + o - f)]
    y = F.pad(y, extend)
    y = y[(slice(None), slice(None)) + tuple(slice(st, st + o) for st, o in zip(starts, outs))]
    return y if bias is None else y + bias.reshape((1, -1) + (1,) * rank)


def conv_transpose1d_tf(x, weight, bias=None, stride=1, padding="same", output_padding=None,
                        dilation=1, output_size=None):
    """Keras ``Conv1DTranspose`` / ``tf.nn.conv1d_transpose`` on NCW input, (in, out, k) weight."""
    return _conv_transpose_tf(1, x, weight, bias, stride, padding, output_padding, dilation,
                              output_size)


def conv_transpose2d_tf(x, weight, bias=None, stride=1, padding="same", output_padding=None,
                        dilation=1, output_size=None):
    """Keras ``Conv2DTranspose(padding=..., output_padding=...)`` / ``tf.nn.conv2d_transpose``.

    ``output_size`` (spatial sizes) plays ``tf.nn``'s ``output_shape``; without it the Keras
    formula picks the size. Weight ``(in, out, kh, kw)``: convert a TF ``(kh, kw, out, in)``
    kernel with ``parity.core.layout.transpose_kernel_tf_to_torch``.

    >>> w = torch.ones(1, 1, 3, 3)
    >>> conv_transpose2d_tf(torch.ones(1, 1, 2, 2), w, stride=2).shape[-2:]
    torch.Size([4, 4])
    """
    return _conv_transpose_tf(2, x, weight, bias, stride, padding, output_padding, dilation,
                              output_size)


def conv_transpose3d_tf(x, weight, bias=None, stride=1, padding="same", output_padding=None,
                        dilation=1, output_size=None):
    """Keras ``Conv3DTranspose`` / ``tf.nn.conv3d_transpose`` on NCDHW input."""
    return _conv_transpose_tf(3, x, weight, bias, stride, padding, output_padding, dilation,
                              output_size)


class ConvTranspose2dSame(torch.nn.ConvTranspose2d):
    """``torch.nn.ConvTranspose2d`` that behaves like Keras ``Conv2DTranspose``.

    >>> m = ConvTranspose2dSame(3, 8, kernel_size=3, stride=2)    # padding="same"
    >>> tuple(m(torch.zeros(1, 3, 5, 5)).shape)
    (1, 8, 10, 10)
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, padding="same",
                 output_padding=None, dilation=1, bias=True):
        super().__init__(in_channels, out_channels, kernel_size, stride=stride, dilation=dilation,
                         bias=bias)
        self.tf_padding, self.tf_output_padding = padding, output_padding

    def forward(self, x, output_size=None):
        return conv_transpose2d_tf(x, self.weight, self.bias, self.stride, self.tf_padding,
                                   self.tf_output_padding, self.dilation, output_size)
