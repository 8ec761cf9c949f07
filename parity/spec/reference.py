"""Float64 NumPy convolution arithmetic: the arbiter, importing no framework.

All arrays are channels-first: input ``(N, C, *spatial)``, weight
``(O, C // groups, *kernel)`` (PyTorch's layout). Padding is explicit
``(before, after)`` per spatial dimension, so TF SAME, PyTorch integer
padding and any wrong recipe can be expressed and evaluated exactly.

The same functions applied to absolute values give the magnitudes
``|x| conv |w|`` that the tolerance rule needs (see ``parity.core.tolerance``).

Example:
    >>> import numpy as np
    >>> x = np.arange(4.0).reshape(1, 1, 4); w = np.ones((1, 1, 2))
    >>> conv_forward(x, w, pads=[(0, 1)], stride=(1,), dilation=(1,), groups=1)[0, 0].tolist()
    [1.0, 3.0, 5.0, 3.0]
"""
from __future__ import annotations

import itertools
from typing import Sequence

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

Pads = Sequence[tuple[int, int]]
_OUT = "pqr"
_BLAS = "greedy"
"""``einsum``'s path option: with one, a two-operand contraction becomes a BLAS matrix product
(a 56x56x64 to 64 3x3 forward: 0.30 s without, 0.015 s with; the float64 sums only reorder)."""
_KER = "ijk"


def _letters(rank: int) -> tuple[str, str]:
    return _OUT[:rank], _KER[:rank]


def _windows(x: np.ndarray, kernel: Sequence[int], pads: Pads, stride: Sequence[int],
             dilation: Sequence[int]) -> np.ndarray:
    """Padded input viewed as ``(N, C, *out, *kernel)`` windows."""
    rank = len(kernel)
    xp = np.pad(x, [(0, 0), (0, 0)] + [tuple(p) for p in pads])
    eff = [(k - 1) * d + 1 for k, d in zip(kernel, dilation)]
    if any(n < e for n, e in zip(xp.shape[2:], eff)):
        raise ValueError(f"padded input {xp.shape[2:]} smaller than the dilated kernel {eff}")
    view = sliding_window_view(xp, eff, axis=tuple(range(2, 2 + rank)))
    index = (slice(None), slice(None)) + tuple(slice(None, None, s) for s in stride) \
        + tuple(slice(None, None, d) for d in dilation)
    return view[index]


def _group(a: np.ndarray, groups: int, axis: int) -> np.ndarray:
    shape = a.shape[:axis] + (groups, a.shape[axis] // groups) + a.shape[axis + 1:]
    return a.reshape(shape)


def conv_forward(x, w, pads: Pads, stride, dilation, groups: int, bias=None) -> np.ndarray:
    """Cross-correlation (what every framework calls convolution), in float64."""
    rank = w.ndim - 2
    o, k = _letters(rank)
    win = _group(_windows(x, w.shape[2:], pads, stride, dilation), groups, 1)
    wg = _group(w, groups, 0)
    y = np.einsum(f"ngc{o}{k},gmc{k}->ngm{o}", win, wg, optimize=_BLAS)
    y = y.reshape((y.shape[0], w.shape[0]) + y.shape[3:])
    if bias is not None:
        y = y + bias.reshape((1, -1) + (1,) * rank)
    return y


def conv_grad_weight(x, dy, kernel: Sequence[int], pads: Pads, stride, dilation,
                     groups: int) -> np.ndarray:
    """d(sum(y * dy)) / dw for ``conv_forward``."""
    rank = len(kernel)
    o, k = _letters(rank)
    win = _group(_windows(x, kernel, pads, stride, dilation), groups, 1)
    dyg = _group(dy, groups, 1)
    dw = np.einsum(f"ngc{o}{k},ngm{o}->gmc{k}", win, dyg, optimize=_BLAS)
    return dw.reshape((dy.shape[1],) + dw.shape[2:])


def conv_grad_input(dy, w, x_shape, pads: Pads, stride, dilation, groups: int) -> np.ndarray:
    """d(sum(y * dy)) / dx for ``conv_forward``: a scatter-add over kernel taps."""
    rank = w.ndim - 2
    o, k = _letters(rank)
    contrib = np.einsum(f"ngm{o},gmc{k}->ngc{o}{k}", _group(dy, groups, 1), _group(w, groups, 0),
                        optimize=_BLAS)
    contrib = contrib.reshape((dy.shape[0], x_shape[1]) + contrib.shape[3:])
    padded = [n + b + a for n, (b, a) in zip(x_shape[2:], pads)]
    dxp = np.zeros(tuple(x_shape[:2]) + tuple(padded))
    out = dy.shape[2:]
    for tap in itertools.product(*(range(n) for n in w.shape[2:])):
        dst = tuple(slice(t * d, t * d + (m - 1) * s + 1, s)
                    for t, d, m, s in zip(tap, dilation, out, stride))
        dxp[(slice(None), slice(None)) + dst] += contrib[(Ellipsis,) + tap]
    crop = tuple(slice(b, b + n) for n, (b, _) in zip(x_shape[2:], pads))
    return dxp[(slice(None), slice(None)) + crop]


def conv_all(x, w, b, dy, pads: Pads, stride, dilation, groups: int) -> dict[str, np.ndarray]:
    """Forward and all three gradients: ``{"y", "dx", "dw", "db"}`` (``db`` only with a bias)."""
    out = {
        "y": conv_forward(x, w, pads, stride, dilation, groups, b),
        "dx": conv_grad_input(dy, w, x.shape, pads, stride, dilation, groups),
        "dw": conv_grad_weight(x, dy, w.shape[2:], pads, stride, dilation, groups),
    }
    if b is not None:
        out["db"] = dy.sum(axis=(0,) + tuple(range(2, dy.ndim)))
    return out


def conv_transpose_all(x, w, b, dy, start, out, stride, dilation) -> dict[str, np.ndarray]:
    """Transposed convolution as every framework defines it, and its gradients, in float64.

    ``x`` is ``(N, Cin, *n)``, ``w`` ``(Cin, Cout, *k)`` (groups 1). The full result has length
    ``L = (n-1)*s + (k-1)*d + 1`` per dimension; an API returns the window
    ``[start, start + out)`` of it, zero beyond ``L`` (torch: ``start = padding``; TF: the
    SAME/VALID padding-before of a convolution whose input has size ``out``).
    """
    full = [(n - 1) * s + (k - 1) * d + 1 for n, k, s, d in zip(x.shape[2:], w.shape[2:], stride,
                                                               dilation)]
    zero = [(0, 0)] * len(full)
    y_full = conv_grad_input(x, w, (x.shape[0], w.shape[1], *full), zero, stride, dilation, 1)

    def window(a, length_from, length_to):
        # a[..., start:start+out] with zeros past the end (per spatial dim)
        pads = [(0, max(0, st + o - f)) for st, o, f in zip(start, length_to, length_from)]
        a = np.pad(a, [(0, 0), (0, 0)] + pads)
        return a[(slice(None), slice(None)) + tuple(slice(st, st + o) for st, o in
                                                    zip(start, length_to))]

    y = window(y_full, full, out)
    # dy lives in the same window of the full signal; outside [0, L) nothing reaches it
    dy_full = np.zeros((dy.shape[0], dy.shape[1], *full))
    src = tuple(slice(0, max(0, min(o, f - st))) for st, o, f in zip(start, out, full))
    dst = tuple(slice(st, st + max(0, min(o, f - st))) for st, o, f in zip(start, out, full))
    dy_full[(slice(None), slice(None)) + dst] = dy[(slice(None), slice(None)) + src]
    result = {"y": y if b is None else y + b.reshape((1, -1) + (1,) * len(full)),
              "dx": conv_forward(dy_full, w, zero, stride, dilation, 1),
              "dw": conv_grad_weight(dy_full, x, w.shape[2:], zero, stride, dilation, 1)}
    if b is not None:
        result["db"] = dy.sum(axis=(0,) + tuple(range(2, dy.ndim)))
    return result
