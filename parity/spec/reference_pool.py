"""Float64 NumPy pooling with explicit (before, after) padding that never counts.

Channels-first ``(N, C, *spatial)``. Padded cells are excluded from the max and
from the mean's count, which is TF's SAME pooling; they are tracked with a
validity mask, so a window whose real cells are all ``-inf`` still has max
``-inf`` and routes its gradient to a real cell.

Example:
    >>> import numpy as np
    >>> x = np.array([[[1.0, 5.0, 3.0]]])
    >>> max_pool(x, (2,), [(0, 1)], (2,))["y"].tolist(), avg_pool(x, (2,), [(0, 1)], (2,))["y"].tolist()
    ([[[5.0, 3.0]]], [[[3.0, 3.0]]])
"""
from __future__ import annotations

import functools
import itertools
import math

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view


def _windows(a: np.ndarray, window, pads, stride, fill) -> np.ndarray:
    """``(N, C, *out, prod(window))`` view of ``a`` padded with ``fill``."""
    r = len(window)
    ap = np.pad(a, [(0, 0), (0, 0)] + [tuple(p) for p in pads], constant_values=fill)
    view = sliding_window_view(ap, window, axis=tuple(range(2, 2 + r)))
    view = view[(slice(None), slice(None)) + tuple(slice(None, None, s) for s in stride)]
    return view.reshape(view.shape[:2 + r] + (-1,))


def _scatter(per_tap: np.ndarray, x_shape, window, pads, stride) -> np.ndarray:
    """Sum ``per_tap[..., out, tap]`` back onto the input positions each tap read."""
    r = len(window)
    padded = [n + b + a for n, (b, a) in zip(x_shape[2:], pads)]
    acc = np.zeros(tuple(x_shape[:2]) + tuple(padded))
    out = per_tap.shape[2:2 + r]
    for t, tap in enumerate(itertools.product(*(range(k) for k in window))):
        dst = tuple(slice(i, i + (m - 1) * s + 1, s) for i, m, s in zip(tap, out, stride))
        acc[(slice(None), slice(None)) + dst] += per_tap[..., t]
    return acc[(slice(None), slice(None)) + tuple(slice(b, b + n) for n, (b, _) in
                                                  zip(x_shape[2:], pads))]


BLOCK_CELLS = 2**22
"""Window cells (batch x channels x outputs x window) one block of channels may hold: channels
pool independently, so large inputs are pooled a block of channels at a time (the same
arithmetic, a flat memory: a 13x13 window over 19x19x512, batch 7, held 1.7 GB per array)."""


def _by_channel_blocks(pool):
    """``pool(x, window, pads, stride, dy, ...)`` over blocks of channels, joined: arrays
    along the channel axis, booleans (``ties``) with any."""
    @functools.wraps(pool)
    def blocked(x, window, pads, stride, dy=None, *args, **kwargs):
        out = [math.ceil(n / s) + 1 for n, s in zip(x.shape[2:], stride)]
        cells = x.shape[0] * math.prod(out) * math.prod(window)
        step = max(1, BLOCK_CELLS // max(cells, 1))
        if step >= x.shape[1]:
            return pool(x, window, pads, stride, dy, *args, **kwargs)
        parts = [pool(x[:, c:c + step], window, pads, stride,
                      None if dy is None else dy[:, c:c + step], *args, **kwargs)
                 for c in range(0, x.shape[1], step)]
        return {k: (any(p[k] for p in parts) if isinstance(parts[0][k], bool)
                    else np.concatenate([p[k] for p in parts], axis=1)) for k in parts[0]}
    return blocked


@_by_channel_blocks
@np.errstate(invalid="ignore")  # inf - inf and 0 * inf are meant: IEEE semantics of the pool
def max_pool(x, window, pads, stride, dy=None, semantics: str = "ieee",
             dtype: str = "float64") -> dict:
    """``y``; with ``dy`` also ``dx`` (to the first maximal real cell), ``ties`` and magnitudes.

    ``semantics="ieee"``: a NaN in the window gives NaN. ``"tf"``: TF's CPU contract as
    ``parity.ports`` implements it: NaN is skipped; in 1-D and 2-D NaN and -inf count as the
    dtype's lowest finite value (so the max never goes below it), in 3-D a window with no
    finite or +inf cell gives NaN when all its cells are NaN and -inf otherwise.
    ``ties`` is True when some window attains its maximum more than once or holds a NaN:
    which cell receives the gradient is then implementation-defined.
    """
    vals = _windows(x, window, pads, stride, -np.inf)
    real = _windows(np.ones_like(x), window, pads, stride, 0.0) > 0
    nan_cells = np.isnan(vals) & real
    masked = np.where(real, vals, -np.inf)
    nan = nan_cells.any(-1)
    if semantics == "tf" and len(window) < 3:
        from parity.core.numerics import lowest

        masked = np.where(real & (nan_cells | (masked == -np.inf)), lowest(dtype), masked)
        y = masked.max(axis=-1)
    elif semantics == "tf":
        masked = np.where(nan_cells, -np.inf, masked)
        y = np.where(nan_cells.sum(-1) == real.sum(-1), np.nan, masked.max(axis=-1))
    else:
        y = np.where(nan, np.nan, np.max(np.where(np.isnan(masked), -np.inf, masked), axis=-1))
    out = {"y": y}
    if dy is None:
        return out
    hits = real & (masked == y[..., None])
    first = np.argmax(hits | nan_cells, axis=-1)
    onehot = np.zeros(vals.shape)
    np.put_along_axis(onehot, first[..., None], 1.0, axis=-1)
    out["dx"] = _scatter(onehot * dy[..., None], x.shape, window, pads, stride)
    out["dx_magnitude"] = _scatter(onehot * np.abs(dy)[..., None], x.shape, window, pads, stride)
    out["ties"] = bool(((hits.sum(-1) > 1) | nan).any())
    return out


@_by_channel_blocks
@np.errstate(invalid="ignore")
def avg_pool(x, window, pads, stride, dy=None) -> dict:
    """``y`` = mean of the real cells; with ``dy`` also ``dx`` and the magnitudes for bounds."""
    vals = _windows(x, window, pads, stride, 0.0)
    count = _windows(np.ones_like(x), window, pads, stride, 0.0).sum(-1)
    out = {"y": vals.sum(-1) / count, "y_magnitude": np.abs(vals).sum(-1) / count,
           "count": count}
    if dy is not None:
        real = _windows(np.ones_like(x), window, pads, stride, 0.0)
        share = (dy / count)[..., None] * real
        out["dx"] = _scatter(share, x.shape, window, pads, stride)
        out["dx_magnitude"] = _scatter(np.abs(share), x.shape, window, pads, stride)
    return out
