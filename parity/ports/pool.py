"""TensorFlow ``padding="SAME"`` pooling for PyTorch, any window and stride.

TF pads like its SAME convolution (odd pixel at the end) but padded cells never
count: they cannot be the max, and the mean divides by the number of real cells.
TF's 1-D and 2-D max also skips NaN and never goes below the dtype's lowest
finite value; its 3-D max skips NaN but returns NaN for an all-NaN window and -inf
for a window of -inf (measured on CPU, every dtype). Torch's propagates NaN.
Torch's ``padding=`` is symmetric, at most half the window, and for the mean counts
the padding unless ``count_include_pad=False``; ``ceil_mode=True`` pads only at the
end. The ports pad explicitly: ``-inf`` for the max (a real cell always wins unless
every real cell is ``-inf`` too), and for the mean divide the zero-padded window sum
by the pooled validity mask.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from parity.core.padding import as_tuple
from parity.ports.conv import pad_same

__all__ = ["max_pool1d_same", "max_pool2d_same", "max_pool3d_same", "avg_pool1d_same",
           "avg_pool2d_same", "avg_pool3d_same", "MaxPool2dSame", "AvgPool2dSame"]

_MAX = {1: F.max_pool1d, 2: F.max_pool2d, 3: F.max_pool3d}
_AVG = {1: F.avg_pool1d, 2: F.avg_pool2d, 3: F.avg_pool3d}


def _args(rank, x, window, stride):
    window = as_tuple(window, rank, "window")
    stride = window if stride is None else as_tuple(stride, rank, "stride")
    return window, stride, (1,) * rank


class _SkipNaN(torch.autograd.Function):
    """NaN and -inf become the dtype's lowest finite value; the gradient passes unchanged.

    TF's max pool starts from ``lowest()`` and skips NaN (``x > acc`` is false for NaN),
    so a window of NaN and -inf cells yields ``lowest()``, not NaN or -inf.
    """

    @staticmethod
    def forward(ctx, x):
        low = torch.finfo(x.dtype).min
        return torch.where(torch.isnan(x) | (x == float("-inf")), torch.full_like(x, low), x)

    @staticmethod
    def backward(ctx, grad):
        return grad


def _max_pool_same(rank, x, window, stride=None):
    window, stride, dil = _args(rank, x, window, stride)
    # padding at -inf stays below lowest(): a real cell always wins and gets the gradient
    pooled = _MAX[rank](pad_same(_SkipNaN.apply(x), window, stride, dil, value=float("-inf")),
                        window, stride)
    if rank < 3:
        return pooled

    # TF's 3-D max pool (another kernel) skips NaN too, but a window with no finite or +inf
    # cell gives NaN when all its cells are NaN and -inf otherwise, not lowest()
    def any_cell(mask):
        m = pad_same(mask.to(x.dtype), window, stride, dil)
        return _MAX[rank](m, window, stride) > 0

    with torch.no_grad():
        usable = any_cell(~torch.isnan(x) & (x > float("-inf")))
        fix = torch.where(any_cell(~torch.isnan(x)), float("-inf"), float("nan")).to(x.dtype)
        shift = torch.where(usable, torch.zeros_like(pooled), fix - pooled)
    return pooled + shift  # the gradient still reaches the cell that won


def _avg_pool_same(rank, x, window, stride=None):
    if rank == 3 and x.dtype == torch.bfloat16:  # torch has no CPU bfloat16 avg_pool3d kernel
        return _avg_pool_same(rank, x.float(), window, stride).to(torch.bfloat16)
    window, stride, dil = _args(rank, x, window, stride)
    total = _AVG[rank](pad_same(x, window, stride, dil), window, stride)
    mask = pad_same(torch.ones_like(x[:1, :1]), window, stride, dil)
    return total / _AVG[rank](mask, window, stride)


def max_pool1d_same(x, window, stride=None):
    """``tf.nn.max_pool1d(..., padding="SAME")`` on NCW input."""
    return _max_pool_same(1, x, window, stride)


def max_pool2d_same(x, window, stride=None):
    """``tf.nn.max_pool2d(..., padding="SAME")`` on NCHW input.

    >>> max_pool2d_same(torch.tensor([[[[1., 2., 3.]]]]), (1, 2), 2).tolist()
    [[[[2.0, 3.0]]]]
    >>> max_pool2d_same(torch.tensor([[[[float("nan"), 2., float("-inf")]]]]), (1, 2), 2).tolist()
    [[[[2.0, -3.4028234663852886e+38]]]]
    """
    return _max_pool_same(2, x, window, stride)


def max_pool3d_same(x, window, stride=None):
    """``tf.nn.max_pool3d(..., padding="SAME")`` on NCDHW input."""
    return _max_pool_same(3, x, window, stride)


def avg_pool1d_same(x, window, stride=None):
    """``tf.nn.avg_pool1d(..., padding="SAME")``: padded cells are not counted."""
    return _avg_pool_same(1, x, window, stride)


def avg_pool2d_same(x, window, stride=None):
    """``tf.nn.avg_pool2d(..., padding="SAME")`` on NCHW input.

    >>> avg_pool2d_same(torch.tensor([[[[1., 2., 3.]]]]), (1, 2), 2).tolist()   # 3 / 1, not 3 / 2
    [[[[1.5, 3.0]]]]
    """
    return _avg_pool_same(2, x, window, stride)


def avg_pool3d_same(x, window, stride=None):
    """``tf.nn.avg_pool3d(..., padding="SAME")`` on NCDHW input."""
    return _avg_pool_same(3, x, window, stride)


class _PoolSame(torch.nn.Module):
    _fn = None

    def __init__(self, window, stride=None):
        super().__init__()
        self.window, self.stride = window, stride

    def forward(self, x):
        return type(self)._fn(x, self.window, self.stride)

    def extra_repr(self):
        return f"window={self.window}, stride={self.stride}"


class MaxPool2dSame(_PoolSame):
    """Keras ``MaxPooling2D(pool_size, strides, padding="same")``."""
    _fn = staticmethod(max_pool2d_same)


class AvgPool2dSame(_PoolSame):
    """Keras ``AveragePooling2D(pool_size, strides, padding="same")``."""
    _fn = staticmethod(avg_pool2d_same)
