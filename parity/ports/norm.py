"""TensorFlow normalization semantics for PyTorch.

``tf.math.l2_normalize(x, axis, epsilon)`` computes ``x * rsqrt(max(sum(x**2), epsilon))``:
the epsilon bounds the *squared* norm. ``torch.nn.functional.normalize(x, 2, dim, eps)``
computes ``x / max(norm(x), eps)``: the epsilon bounds the norm. With both defaults (1e-12)
they part for vectors with norm below 1e-6.

Weight standardization as the Keras code of seeds/002 writes it: per output channel (the last
TF kernel axis, dim 0 in torch), subtract the mean and divide by the *biased* standard
deviation plus ``eps``.
"""
from __future__ import annotations

import torch

__all__ = ["l2_normalize", "weight_standardize", "group_norm", "layer_norm_channels"]


def l2_normalize(x, dim=-1, eps: float = 1e-12):
    """``tf.math.l2_normalize`` for torch tensors (``dim`` an int or a tuple of ints).

    Computed as the float64 reference computes it, not as TF's kernel does: each vector is
    scaled by its largest magnitude ``m`` before squaring, so no square overflows (TF's and
    ``F.normalize``'s squares of 2e19 overflow float32 and bfloat16, and their outputs become 0)
    and the gradient's ``rsqrt(s)**3`` stays in range; float16 and bfloat16 are computed in
    float32 (``eps = 1e-12`` is 0 in float16). ``eps`` bounds the squared norm, as in TF.

    >>> l2_normalize(torch.tensor([3.0, 4.0])).tolist()
    [0.6000000238418579, 0.800000011920929]
    >>> l2_normalize(torch.tensor([3e-7, 4e-7])).tolist()   # TF clamps the squared norm at 1e-12
    [0.30000001192092896, 0.4000000059604645]
    >>> l2_normalize(torch.tensor([3e19, 4e19])).tolist()   # TF gives [0.0, 0.0]: 9e38 overflows
    [0.6000000238418579, 0.800000011920929]
    """
    if x.dtype in (torch.float16, torch.bfloat16):
        return l2_normalize(x.float(), dim, eps).to(x.dtype)
    dims = tuple(dim) if isinstance(dim, (tuple, list)) else (dim,)
    # the scale is a constant of the computation: y does not depend on it, nor does dy/dx
    m = torch.amax(torch.abs(x.detach()), dim=dims, keepdim=True)
    m = torch.where(m > 0, m, torch.ones_like(m))   # a zero vector: any scale
    scaled = x / m
    s = torch.sum(scaled * scaled, dim=dims, keepdim=True)   # in [1, n] unless x is 0
    clamped = m * torch.sqrt(s) < eps ** 0.5   # sum(x**2) < eps
    # both branches are evaluated: each gets inputs whose gradient is finite where unused
    unclamped = scaled * torch.rsqrt(torch.where(clamped, torch.ones_like(s), s))
    return torch.where(clamped, x * (eps if eps > 0 else 1.0) ** -0.5, unclamped)


def weight_standardize(weight, eps: float = 1e-5):
    """Standardize each output channel of a torch conv weight ``(out, in, *k)`` like seeds/002's
    Keras code: ``(w - mean) / (std + eps)`` with the biased (population) std. float16 and
    bfloat16 are computed in float32 (a float16 variance below 6.1e-5 is subnormal)."""
    if weight.dtype in (torch.float16, torch.bfloat16):
        return weight_standardize(weight.float(), eps).to(weight.dtype)
    dims = tuple(range(1, weight.dim()))
    centered = weight - weight.mean(dim=dims, keepdim=True)
    variance = (centered * centered).mean(dim=dims, keepdim=True)
    # a constant channel (variance 0): the path through the std has limit 0 there, where
    # sqrt'(0) would give NaN; both branches get inputs with a finite gradient
    positive = variance > 0
    std = torch.where(positive, torch.sqrt(torch.where(positive, variance, torch.ones_like(variance))),
                      torch.zeros_like(variance))
    return centered / (std + eps)


def group_norm(x, groups: int, weight=None, bias=None, eps: float = 1e-3):
    """Keras ``GroupNormalization(groups, epsilon)`` on NC... input: contiguous channel groups,
    biased variance, Keras's epsilon default (torch's is 1e-5). Unlike ``F.group_norm`` it
    accepts groups holding a single value (they normalize to ``bias``, as in Keras).

    >>> group_norm(torch.ones(1, 2, 1), 2, eps=1e-3).tolist()
    [[[0.0], [0.0]]]
    """
    if x.dtype in (torch.float16, torch.bfloat16):  # Keras computes these in float32 too
        up = [None if t is None else t.float() for t in (weight, bias)]
        return group_norm(x.float(), groups, *up, eps=eps).to(x.dtype)
    grouped = x.reshape(x.shape[0], groups, -1)
    mean = grouped.mean(dim=-1, keepdim=True)
    var = ((grouped - mean) ** 2).mean(dim=-1, keepdim=True)
    y = ((grouped - mean) * torch.rsqrt(var + eps)).reshape(x.shape)
    view = (1, -1) + (1,) * (x.dim() - 2)
    if weight is not None:
        y = y * weight.view(view)
    return y if bias is None else y + bias.view(view)


def layer_norm_channels(x, weight=None, bias=None, eps: float = 1e-3):
    """Keras ``LayerNormalization()`` (axis -1 of a channels-last tensor) on NC... input: normalize
    over dim 1 at every position. ``nn.LayerNorm(C)`` on NC... would normalize the last dim."""
    moved = x.movedim(1, -1)
    y = torch.nn.functional.layer_norm(moved, (x.shape[1],), weight, bias, eps)
    return y.movedim(-1, 1)
