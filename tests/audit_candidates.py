"""Candidates for the audit tests: contrived false passes and misbehaving implementations.

Loaded by name (``audit_candidates:...``) in the audit's worker process, so each must be a
module-level callable.
"""
import os
import signal
import sys
import time

import torch

from parity.ports import conv2d_same, conv3d_same


class _Double(torch.autograd.Function):
    """Identity forward, twice the gradient backward."""

    @staticmethod
    def forward(ctx, w):
        return w.view_as(w)

    @staticmethod
    def backward(ctx, g):
        return 2 * g


def dw_doubled_where_tf_refuses(x, w, b, stride, dilation, groups):
    """The port, with dw doubled exactly where TF's CPU kernels refuse the gradients."""
    if max(dilation) > 1 or groups > 1:
        w = _Double.apply(w)
    return conv2d_same(x, w, b, stride, dilation, groups)


def zero_where_tf_conv3d_shifts(x, w, b, stride, dilation, groups):
    """The port, but 0 exactly where TF's Conv3D windows shift (negative SAME padding)."""
    y = conv3d_same(x, w, b, stride, dilation, groups)
    shifted = any((-(-n // s) - 1) * s + (k - 1) * d + 1 - n <= -2 for n, k, s, d in
                  zip(x.shape[2:], w.shape[2:], stride, dilation))
    return y * 0 if shifted else y


def exits(x, w, b, stride, dilation, groups):
    sys.exit(3)


def hangs(x, w, b, stride, dilation, groups):
    time.sleep(3600)


def aborts(x, w, b, stride, dilation, groups):
    os.abort()


def segfaults(x, w, b, stride, dilation, groups):
    os.kill(os.getpid(), signal.SIGSEGV)


def hard_exits(x, w, b, stride, dilation, groups):
    os._exit(7)


def eats_memory(x, w, b, stride, dilation, groups):
    return torch.empty(2**40, dtype=torch.uint8)  # 1 TiB: refused by the worker's limit


def crashes_sometimes(x, w, b, stride, dilation, groups):
    """Segfaults on batch 1, correct otherwise: the run must go on after the crash."""
    if x.shape[0] == 1:
        os.kill(os.getpid(), signal.SIGSEGV)
    return conv2d_same(x, w, b, stride, dilation, groups)


def returns_float32(x, w, b, stride, dilation, groups):
    return conv2d_same(x.float(), w.float(), None if b is None else b.float(), stride,
                       dilation, groups)


def forward_numpy(x, w, b, stride, dilation, groups):
    """A NumPy candidate (no autograd): the port's result as an array."""
    return conv2d_same(x, w, b, stride, dilation, groups).numpy()


def ignores_weight(x, w, b, stride, dilation, groups):
    """Output independent of the weight: its gradient is zero, not a harness error."""
    return conv2d_same(x, torch.ones_like(w.detach()), b, stride, dilation, groups)


class Conv2dSameModule(torch.nn.Conv2d):
    """A module candidate: nn.Conv2d with TF SAME padding done by the port."""

    def forward(self, x):
        return conv2d_same(x, self.weight, self.bias, self.stride, self.dilation, self.groups)



def ieee_max_pool2d_same(x, window, stride):
    """TF's SAME windows, IEEE NaN semantics (torch's max propagates NaN)."""
    from parity.ports import pad_same

    return torch.nn.functional.max_pool2d(
        pad_same(x, window, stride, (1, 1), value=float("-inf")), window, stride)


def avg_pool2d_kernel_size(x, kernel_size, stride):
    """The port, called with torch's keyword: kernel_size= instead of window=."""
    from parity.ports import avg_pool2d_same

    return avg_pool2d_same(x, kernel_size, stride)


class HalfKernelPadding(torch.nn.Conv2d):
    """A module candidate with the usual wrong port: symmetric padding k // 2."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.padding = tuple(k // 2 for k in self.kernel_size)


def correct_if_no_core_files(x, w, b, stride, dilation, groups):
    """The port, but raises if the worker would write a core file when a candidate aborts."""
    import resource

    if resource.getrlimit(resource.RLIMIT_CORE)[0] != 0:
        raise RuntimeError("the worker may write core files")
    return conv2d_same(x, w, b, stride, dilation, groups)


def causal_padded_at_the_end(x, w, b, stride, dilation, groups):
    """Causal padding on the wrong side: ``d*(k-1)`` zeros after the sequence."""
    import torch.nn.functional as F

    pad = (w.shape[-1] - 1) * dilation[0]
    return F.conv1d(F.pad(x, (0, pad)), w, b, stride, 0, dilation, groups)


def causal_same_padding(x, w, b, stride, dilation, groups):
    """SAME instead of causal padding (right length, windows centred)."""
    from parity.ports import conv1d_same

    return conv1d_same(x, w, b, stride=stride, dilation=dilation, groups=groups)


def separable_multiplier_major(x, wd, wp, b, stride, dilation):
    """A TF ``(kh, kw, C, M)`` depthwise filter flattened multiplier-major (``m*C + c``) where
    torch's grouped conv wants channel-major (``c*M + m``)."""
    from parity.ports import separable_conv2d_same

    c = x.shape[1]
    m = wd.shape[0] // c
    wd = wd.reshape(c, m, *wd.shape[1:]).transpose(0, 1).reshape(wd.shape)
    return separable_conv2d_same(x, wd, wp, b, stride=stride, dilation=dilation)


def separable_symmetric_padding(x, wd, wp, b, stride, dilation):
    """The two-layer recipe with ``padding=d*(k-1)//2`` on both sides."""
    from parity.ops.separable import symmetric

    return symmetric(x, wd, wp, b, stride, dilation)


def resize_torch_native(x, size, method, antialias):
    """torch interpolate as is: legacy nearest, a = -0.75 bicubic, adaptive-pool area."""
    import torch.nn.functional as F

    mode = {"bilinear": "bilinear", "nearest": "nearest", "bicubic": "bicubic", "area": "area"}
    linear = method in ("bilinear", "bicubic")
    return F.interpolate(x, size=size, mode=mode[method], antialias=antialias,
                         align_corners=False if linear else None)


def resize_align_corners(x, size, method, antialias):
    """The "match TensorFlow" habit: align_corners=True (TF 1's grid) where torch accepts it."""
    import torch.nn.functional as F

    linear = method in ("bilinear", "bicubic")
    return F.interpolate(x, size=size, mode=method if linear else "nearest-exact",
                         antialias=antialias, align_corners=True if linear else None)
