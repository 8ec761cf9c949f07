"""Keras weight initializers for PyTorch weights, in torch's own layouts.

Keras computes fans from its kernel shape: dense ``(in, out)``, conv ``(*k, in/groups, out)``,
transposed conv ``(*k, out, in)``, depthwise ``(*k, C, multiplier)``: ``fan_in`` is the
second-to-last axis times the receptive field, ``fan_out`` the last. For dense, conv and
transposed conv weights this is what torch computes from its own layout; for a depthwise
weight ``(C * multiplier, 1, *k)`` torch gets ``fan_in = k`` where Keras has ``C * k``, and
``fan_out = C * multiplier * k`` where Keras has ``multiplier * k``. So the functions here take
the Keras layer kind (``layer``) and, for depthwise, ``groups = C``.

Keras's ``"truncated_normal"`` draws from a normal truncated at two standard deviations of the
parent, with the parent's std divided by 0.8796 (the std of a standard normal truncated at
+-2) so that the variance is ``scale / fan``. Samples are drawn in float32 (float64 for float64
weights) and rounded into the weight, so half-precision weights get correctly rounded values.

Example:
    >>> import torch
    >>> w = torch.empty(64, 1, 3, 3)               # DepthwiseConv2D(3, depth_multiplier=2), C=32
    >>> keras_fans(w.shape, "depthwise", groups=32), torch.nn.init._calculate_fan_in_and_fan_out(w)
    ((288, 18), (9, 576))
    >>> _ = he_uniform_(w, layer="depthwise", groups=32, generator=torch.Generator().manual_seed(0))
    >>> bool(w.abs().max() <= (6 / 288) ** 0.5)
    True
"""
from __future__ import annotations

import math

import torch

__all__ = ["he_normal_", "he_uniform_", "glorot_normal_", "glorot_uniform_", "lecun_normal_",
           "lecun_uniform_", "variance_scaling_", "truncated_normal_", "keras_default_init_",
           "keras_fans"]

LAYERS = ("dense", "conv", "conv_transpose", "depthwise")
TRUNCATED_STD = 0.87962566103423978
"""Std of a standard normal truncated at +-2 (Keras's constant; scipy gives the same digits)."""


def keras_fans(shape, layer: str = "conv", groups: int = 1) -> tuple[int, int]:
    """(fan_in, fan_out) Keras computes for the Keras kernel of this torch weight shape.

    >>> keras_fans((16, 8), "dense"), keras_fans((16, 4, 3, 3), "conv", groups=2)
    ((8, 16), (36, 144))
    """
    shape = tuple(int(s) for s in shape)
    if layer not in LAYERS:
        raise ValueError(f"unknown layer {layer!r}; known: {', '.join(LAYERS)}")
    if layer == "dense":
        if len(shape) != 2:
            raise ValueError(f"a dense weight is (out, in), got shape {shape}")
        return shape[1], shape[0]
    if len(shape) < 3:
        raise ValueError(f"a {layer} weight has a kernel axis, got shape {shape}")
    receptive = math.prod(shape[2:])
    if layer == "depthwise":
        if groups < 1 or shape[0] % groups or shape[1] != 1:
            raise ValueError(f"a depthwise weight is (C * multiplier, 1, *k) with groups = C; "
                             f"got shape {shape}, groups {groups}")
        return groups * receptive, shape[0] // groups * receptive
    # conv (out, in/groups, *k) -> (*k, in/groups, out); transposed (in, out, *k) -> (*k, out, in)
    return shape[1] * receptive, shape[0] * receptive


def _fan(fans: tuple[int, int], mode: str) -> float:
    if mode == "fan_in":
        return max(1.0, fans[0])
    if mode == "fan_out":
        return max(1.0, fans[1])
    if mode == "fan_avg":
        return max(1.0, (fans[0] + fans[1]) / 2.0)
    raise ValueError(f"unknown mode {mode!r}; known: fan_in, fan_out, fan_avg")


@torch.no_grad()
def _fill(tensor, draw):
    work = torch.empty(tensor.shape, dtype=torch.float64 if tensor.dtype == torch.float64
                       else torch.float32, device=tensor.device)
    draw(work)
    return tensor.copy_(work)


def truncated_normal_(tensor, mean: float = 0.0, stddev: float = 0.05, generator=None):
    """``keras.initializers.TruncatedNormal(mean, stddev)``: bounds at ``mean +- 2 * stddev``.

    (``torch.nn.init.trunc_normal_``'s ``a`` and ``b`` are absolute bounds, -2 and 2 by default.)
    """
    return _fill(tensor, lambda w: torch.nn.init.trunc_normal_(
        w, mean, stddev, mean - 2 * stddev, mean + 2 * stddev, generator=generator))


def variance_scaling_(tensor, scale: float = 1.0, mode: str = "fan_in",
                      distribution: str = "truncated_normal", *, layer: str = "conv",
                      groups: int = 1, generator=None):
    """``keras.initializers.VarianceScaling(scale, mode, distribution)`` for a torch weight."""
    n = _fan(keras_fans(tensor.shape, layer, groups), mode)
    if distribution in ("truncated_normal", "normal"):
        std = math.sqrt(scale / n) / TRUNCATED_STD
        return _fill(tensor, lambda w: torch.nn.init.trunc_normal_(
            w, 0.0, std, -2 * std, 2 * std, generator=generator))
    if distribution == "untruncated_normal":
        return _fill(tensor, lambda w: w.normal_(0.0, math.sqrt(scale / n), generator=generator))
    if distribution == "uniform":
        limit = math.sqrt(3.0 * scale / n)
        return _fill(tensor, lambda w: w.uniform_(-limit, limit, generator=generator))
    raise ValueError(f"unknown distribution {distribution!r}; known: truncated_normal, "
                     f"untruncated_normal, uniform")


def _preset(scale: float, mode: str, distribution: str, keras_name: str):
    def init_(tensor, *, layer: str = "conv", groups: int = 1, generator=None):
        return variance_scaling_(tensor, scale, mode, distribution, layer=layer, groups=groups,
                                 generator=generator)
    init_.__name__ = init_.__qualname__ = f"{keras_name.lower()}_"
    init_.__doc__ = (f"``keras.initializers.{keras_name}()``: VarianceScaling({scale}, "
                     f"{mode!r}, {distribution!r}) with Keras's fans (see ``keras_fans``).")
    return init_


he_normal_ = _preset(2.0, "fan_in", "truncated_normal", "HeNormal")
he_uniform_ = _preset(2.0, "fan_in", "uniform", "HeUniform")
glorot_normal_ = _preset(1.0, "fan_avg", "truncated_normal", "GlorotNormal")
glorot_uniform_ = _preset(1.0, "fan_avg", "uniform", "GlorotUniform")
lecun_normal_ = _preset(1.0, "fan_in", "truncated_normal", "LecunNormal")
lecun_uniform_ = _preset(1.0, "fan_in", "uniform", "LecunUniform")


def keras_layer_of(module) -> tuple[str, int]:
    """(layer kind, groups) of the Keras layer a torch module stands for.

    A convolution with ``groups == in_channels > 1`` is taken for a Keras DepthwiseConv; pass
    ``layer="conv"`` to ``keras_default_init_`` if it came from a grouped Keras Conv.
    """
    if isinstance(module, torch.nn.Linear):
        return "dense", 1
    if isinstance(module, torch.nn.modules.conv._ConvTransposeNd):
        return "conv_transpose", module.groups
    if isinstance(module, torch.nn.modules.conv._ConvNd):
        depthwise = module.groups > 1 and module.groups == module.in_channels
        return ("depthwise" if depthwise else "conv"), module.groups
    raise TypeError(f"no Keras layer for {type(module).__name__}")


def keras_default_init_(module, layer: str | None = None, generator=None):
    """Initialize a torch Linear/Conv/ConvTranspose like the Keras layer's defaults:
    ``glorot_uniform`` kernel with Keras's fans, zero bias.

    >>> m = keras_default_init_(torch.nn.Linear(3, 4)).requires_grad_(False)
    >>> float(m.bias.abs().max()), bool(m.weight.abs().max() <= (6 / 7) ** 0.5)
    (0.0, True)
    """
    kind, groups = keras_layer_of(module)
    if layer is not None:
        kind = layer
    if kind == "conv_transpose" and groups != 1:
        raise ValueError("Keras transposed convolutions have no groups")
    glorot_uniform_(module.weight, layer=kind, groups=groups if kind == "depthwise" else 1,
                    generator=generator)
    if module.bias is not None:
        with torch.no_grad():
            module.bias.zero_()
    return module
