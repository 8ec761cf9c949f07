"""``tf.image.resize`` for PyTorch: bilinear, nearest, bicubic and area, with ``antialias``.

Every method TF offers is separable: output ``y = Wh @ x @ Ww^T`` per image and channel, with
one weight matrix ``(out, in)`` per axis. This module builds those matrices exactly as TF's
kernels define them (``resize_weights``) and applies them in torch, so gradients come from
autograd. What TF does (TF 2.x ``tf.image.resize`` always uses half-pixel centres):

* bilinear (``ResizeBilinear``): source ``(i + 0.5) * in/out - 0.5``, the two neighbours
  clamped to the image, weights ``1 - t`` and ``t``.
* nearest (``ResizeNearestNeighbor``): ``min(floor((i + 0.5) * scale), in - 1)`` with ``scale``
  and the product rounded to float32, as TF computes them (torch ``"nearest-exact"`` is the same
  rule; torch ``"nearest"`` is ``floor(i * scale)``).
* bicubic (``ResizeBicubic``): Keys' cubic with ``a = -0.5`` (torch: ``-0.75``) on the four
  neighbours; taps outside the image get weight 0 and the rest are renormalised (torch repeats
  the edge pixel); the weights come from a 1024-entry table, i.e. at the fraction rounded to the
  nearest 1/1024.
* area (``ResizeArea``): the mean over the box ``[i * s, (i + 1) * s)``, ``s = in/out``, partial
  pixels weighted by their overlap (torch ``"area"`` is adaptive average pooling, whole pixels).
* ``antialias=True`` for bilinear and bicubic (``ScaleAndTranslate``, kernels ``triangle`` and
  ``keyscubic``): the kernel is stretched by ``in/out`` when downsampling, sampled at
  ``source + 0.5 - (i + 0.5) * in/out``, and normalised to sum 1. ``antialias`` changes nothing
  for nearest and area.

Example:
    >>> import torch
    >>> x = torch.arange(4.0).reshape(1, 1, 1, 4)
    >>> resize2d(x, (1, 2), "area")[0, 0, 0].tolist()
    [0.5, 2.5]
    >>> resize2d(x, (1, 3), "nearest")[0, 0, 0].tolist()   # floor((i + 0.5) * 4/3)
    [0.0, 2.0, 3.0]
"""
from __future__ import annotations

import numpy as np
import torch

__all__ = ["resize2d", "resize_weights"]

RESIZE_METHODS = ("bilinear", "nearest", "bicubic", "area")
_TABLE = 1024


def _keys_cubic(t: np.ndarray, a: float = -0.5) -> np.ndarray:
    t = np.abs(t)
    return np.where(t < 1, ((a + 2) * t - (a + 3)) * t * t + 1,
                    np.where(t < 2, ((a * t - 5 * a) * t + 8 * a) * t - 4 * a, 0.0))


def _triangle(t: np.ndarray) -> np.ndarray:
    return np.maximum(0.0, 1.0 - np.abs(t))


def _nearest(n: int, out: int) -> np.ndarray:
    scale = np.float32(n) / np.float32(out)
    src = np.floor((np.arange(out, dtype=np.float32) + np.float32(0.5)) * scale)
    w = np.zeros((out, n))
    w[np.arange(out), np.minimum(src.astype(np.int64), n - 1)] = 1.0
    return w


def _bilinear(n: int, out: int, ft) -> np.ndarray:
    src = (np.arange(out, dtype=ft) + ft(0.5)) * (ft(n) / ft(out)) - ft(0.5)
    low = np.floor(src)
    t = (src - low).astype(np.float64)
    w = np.zeros((out, n))
    rows = np.arange(out)
    np.add.at(w, (rows, np.clip(low.astype(np.int64), 0, n - 1)), 1.0 - t)
    np.add.at(w, (rows, np.clip(np.ceil(src).astype(np.int64), 0, n - 1)), t)
    return w


def _bicubic(n: int, out: int, ft) -> np.ndarray:
    src = (np.arange(out, dtype=ft) + ft(0.5)) * (ft(n) / ft(out)) - ft(0.5)
    low = np.floor(src).astype(np.int64)
    t = np.rint((src - low).astype(np.float64) * _TABLE) / _TABLE   # TF's table lookup
    w = np.zeros((out, n))
    for tap in (-1, 0, 1, 2):
        idx = low + tap
        inside = (idx >= 0) & (idx < n)
        w[np.arange(out)[inside], idx[inside]] = _keys_cubic(tap - t)[inside]
    return w / np.where(np.abs(w.sum(1, keepdims=True)) > 0, w.sum(1, keepdims=True), 1.0)


def _area(n: int, out: int, ft) -> np.ndarray:
    s = ft(n) / ft(out)
    start = (np.arange(out, dtype=ft) * s).astype(np.float64)
    end = (np.arange(1, out + 1, dtype=ft) * s).astype(np.float64)
    cells = np.arange(n)
    overlap = np.clip(np.minimum(end[:, None], cells + 1) - np.maximum(start[:, None], cells),
                      0.0, None)
    return overlap / float(s)


def _scale_and_translate(n: int, out: int, kernel, radius: float, ft) -> np.ndarray:
    inv_scale = ft(1.0) / (ft(out) / ft(n))
    kernel_scale = max(float(inv_scale), 1.0)
    sample = ((np.arange(out, dtype=ft) + ft(0.5)) * inv_scale).astype(np.float64)
    pos = np.arange(n)[None, :] + 0.5 - sample[:, None]
    w = kernel(pos / kernel_scale)
    w[np.abs(pos) >= radius * kernel_scale] = 0.0
    total = w.sum(1, keepdims=True)
    return w / np.where(np.abs(total) > 0, total, 1.0)


def resize_weights(n: int, out: int, method: str, antialias: bool = False,
                   precision=np.float32) -> np.ndarray:
    """The ``(out, n)`` float64 matrix TF's ``method`` applies along one axis.

    Sampling positions are computed in ``precision`` (TF: float32; the nearest index always in
    float32, as TF's; ``np.float64`` gives the exact positions).

    >>> resize_weights(2, 4, "bilinear").tolist()[1]
    [0.75, 0.25]
    """
    if method not in RESIZE_METHODS:
        raise ValueError(f"method must be one of {', '.join(RESIZE_METHODS)}, got {method!r}")
    if method == "nearest":
        return _nearest(n, out)
    if method == "area":
        return _area(n, out, precision)
    if antialias:
        kernel, radius = (_triangle, 1.0) if method == "bilinear" else (_keys_cubic, 2.0)
        return _scale_and_translate(n, out, kernel, radius, precision)
    return _bilinear(n, out, precision) if method == "bilinear" else _bicubic(n, out, precision)


def resize2d(x: torch.Tensor, size, method: str = "bilinear", antialias: bool = False):
    """``tf.image.resize(x, size, method, antialias)`` on an NCHW tensor (the result in
    ``x``'s dtype; half precision is computed in float32 first, as TF does).

    >>> resize2d(torch.tensor([[[[1.0, 2.0]]]]), (1, 4)).tolist()
    [[[[1.0, 1.25, 1.75, 2.0]]]]
    """
    precision = np.float64 if x.dtype == torch.float64 else np.float32
    compute = x.dtype if x.dtype in (torch.float32, torch.float64) else torch.float32
    wh, ww = (torch.from_numpy(resize_weights(n, o, method, antialias, precision)).to(compute)
              for n, o in zip(x.shape[2:], size))
    y = torch.einsum("oh,nchw,pw->ncop", wh, x.to(compute), ww)
    return y.to(x.dtype)
