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

    >>> l2_normalize(torch.tensor([3.0, 4.0])).tolist()
    [0.6000000238418579, 0.800000011920929]
    >>> l2_normalize(torch.tensor([3e-7, 4e-7])).tolist()   # TF clamps the squared norm at 1e-12
    [0.30000001192092896, 0.4000000059604645]
    """
    squares = torch.sum(x * x, dim=dim, keepdim=True)
    return x * torch.rsqrt(torch.clamp(squares, min=eps))


def weight_standardize(weight, eps: float = 1e-5):
    """Standardize each output channel of a torch conv weight ``(out, in, *k)`` like seeds/002's
    Keras code: ``(w - mean) / (std + eps)`` with the biased (population) std."""
    dims = tuple(range(1, weight.dim()))
    centered = weight - weight.mean(dim=dims, keepdim=True)
    variance = (centered * centered).mean(dim=dims, keepdim=True)
    # a constant channel (variance 0): TF's gradient is 0 there, sqrt'(0) would give NaN
    std = torch.sqrt(torch.clamp(variance, min=torch.finfo(weight.dtype).tiny))
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
