"""The bounds a model comparison judges each layer's difference against.

**Isolated** (the torch layer fed Keras's exact input): the rounding bound of
``parity.core.tolerance.rounding_bound``, ``C * u(dtype) * (1 + sqrt(n)) * magnitude + tiny``, with the
``n`` and the magnitude each op module of the registry uses for the same computation:

==============  ===============================================  =============================
kind            n (terms summed into one output element)          magnitude
==============  ===============================================  =============================
conv            in/groups * prod(kernel) + 1                      ``|x| conv |w| + |b|``
depthwise       prod(kernel) + 1                                  the same, depthwise
separable       two stages: 1+sqrt(prod k) + 1+sqrt(C*M + 1)       both stages on absolute values
transpose       in * prod(kernel) + 1                             ``|x| conv^T |w| + |b|``
dense           in + 1                                            ``|x| @ |W| + |b|``
batchnorm       4                                                 ``(|x|+|mean|)|g|/sqrt(v+eps)+|b|``
layer/groupnorm elements per statistic + 4                        ``|y| + max|gamma| + max|beta|``
avgpool, gap    elements averaged + 1                             the mean of ``|x|``
maxpool, pad,   0 (exact)                                         ``|y|``
layout, dropout
activation      1                                                 ``|x| + |y|``
merge (add)     number of inputs                                  the sum of ``|inputs|``
other           4                                                 ``|y| (+ |x| if same shape)``
==============  ===============================================  =============================

The magnitudes are computed by the Keras layer itself, cloned in float64 with absolute weights
(a moving mean made non-positive) on absolute inputs.

**Propagated** (both models run end to end): first-order rounding analysis says a network's
accumulated rounding error is linear in the unit roundoff, so the float64 runs of two equivalent
models differ at layer L by at most about ``u64/u32`` times their float32 runs' drift from their
own float64 runs, which this comparison measures at every layer. It grows with depth exactly as
the measured drift does (no hand-picked tolerance):

    B64[L] = C * (u64/u32) * (max|k32[L] - k64[L]| + max|t32[L] - t64[L]|) + max(isolated B64[L])
    B32[L] = max|k32[L] - k64[L]| + max|t32[L] - t64[L]| + B64[L]

(k: Keras, t: torch; 32/64 the run's dtype). The float32 bound is the triangle inequality: two
float32 results can differ by their own distances to exact arithmetic plus the float64 runs'
difference (so a float32 propagated failure is always a float64 one too).
"""
from __future__ import annotations

import math

import numpy as np

from parity.core.tolerance import ROUNDING_C, rounding_bound
from parity.model.keras_graph import weights_by_name
from parity.model.mapping import fused_activation
from parity.core.numerics import TF32_UNIT_ROUNDOFF, unit_roundoff

ABSOLUTE = ("conv", "depthwise", "separable", "transpose", "dense", "batchnorm", "avgpool",
            "gap", "preprocess")
TENSOR_CORES = ("conv", "depthwise", "separable", "transpose", "dense")
"""Layer kinds computed by convolution or matmul kernels: under TF32 on CUDA their float32
bound widens to TF32's (``parity.backends.device.tf32_bounds``); every other layer keeps float32's."""


def terms(layer, kind: str, inputs: list[np.ndarray]) -> float:
    """The ``n`` of the bound (for two-stage layers an ``n`` giving the summed factors)."""
    x = inputs[0]
    name = type(layer).__name__
    if kind == "conv":
        return layer.kernel.shape[-2] * math.prod(layer.kernel_size) + 1
    if kind == "depthwise":
        return math.prod(layer.kernel_size) + 1
    if kind == "separable":
        f = (1 + math.sqrt(math.prod(layer.kernel_size))) + \
            (1 + math.sqrt(layer.pointwise_kernel.shape[-2] + 1))
        return (f - 1) ** 2
    if kind == "transpose":
        return layer.kernel.shape[-1] * math.prod(layer.kernel_size) + 1
    if kind == "dense":
        return layer.kernel.shape[0] + 1
    if kind == "batchnorm":
        return 4
    if kind in ("layernorm", "groupnorm"):
        axes = layer.axis if isinstance(layer.axis, (list, tuple)) else [layer.axis]
        per = math.prod(x.shape[a] for a in axes)
        if kind == "groupnorm":
            per = x.shape[-1] // layer.groups * math.prod(x.shape[1:-1])
        return per + 4
    if kind == "avgpool":
        return math.prod(layer.pool_size) + 1
    if kind == "gap":
        return math.prod(x.shape[1:-1]) + 1
    if kind in ("maxpool", "pad", "layout", "dropout"):
        return 0
    if kind == "activation":
        return 1
    if kind == "merge":
        return len(inputs) if name in ("Add", "Subtract", "Average") else 1
    return 4


def magnitude(kgraph, name: str, kind: str, inputs: list[np.ndarray], y64: np.ndarray,
              linear: bool = False):
    if kind in ABSOLUTE or (kind == "merge" and type(kgraph.by_name[name]).__name__ in
                            ("Add", "Subtract", "Average")):
        mag = np.abs(kgraph.call_layer(name, inputs, "float64", absolute=True, linear=True))
        # a fused activation (|act(v)| <= |v| + |act(v)|): its own rounding on top
        return mag if linear or fused_activation(kgraph.by_name[name]) is None \
            else mag + np.abs(y64)
    if kind in ("layernorm", "groupnorm"):
        w = {k: np.abs(v.numpy()).max() for k, v in weights_by_name(kgraph.by_name[name]).items()}
        return np.abs(y64) + w.get("gamma", 1.0) + w.get("beta", 0.0)
    if kind == "activation" or (kind == "other" and len(inputs) == 1 and
                                inputs[0].shape == y64.shape):
        return np.abs(y64) + np.abs(inputs[0])
    return np.abs(y64)


def isolated(kgraph, name: str, inputs: list[np.ndarray], y64: np.ndarray, dtype: str,
             linear: bool = False):
    """The isolated bound (Keras layout) of layer ``name`` on ``inputs`` for a ``dtype`` run
    (``linear``: of its output before its fused activation)."""
    from parity.backends.device import tf32_bounds

    layer, kind = kgraph.by_name[name], kgraph.kind(name)
    mag = magnitude(kgraph, name, kind, inputs, y64, linear)
    bound = rounding_bound(mag, terms(layer, kind, inputs), dtype)
    if dtype == "float32" and kind in TENSOR_CORES and tf32_bounds():
        return bound * (TF32_UNIT_ROUNDOFF / unit_roundoff("float32"))
    return bound


def propagated64(k32, k64, t32, t64, iso64_max: float, weights_rho: float = 0.0) -> float:
    """``weights_rho``: the largest relative difference between a torch side's own weights and
    Keras's upstream (a converter's float32 fold): a perturbation of that size at one layer,
    bounded by the float32 drift scaled from float32's unit roundoff to it."""
    drift = float(np.max(np.abs(k32 - k64), initial=0.0)) + \
        float(np.max(np.abs(t32 - t64), initial=0.0))
    return ROUNDING_C * (unit_roundoff("float64") + weights_rho) / unit_roundoff("float32") * \
        drift + iso64_max


def propagated32(k32, k64, t32, t64, b64: float) -> float:
    return float(np.max(np.abs(k32 - k64), initial=0.0)) + \
        float(np.max(np.abs(t32 - t64), initial=0.0)) + b64


def folded_difference(kgraph, tgraph, name: str, labels: list[str], inputs: list[np.ndarray],
                      channels_first: bool = True):
    """For a converter's chain (``x * scale + shift``, ``x @ W + b``) whose constants are its
    own (not carried): the bound's extra term from their difference with Keras's weights folded
    in float64, ``|x| * |d scale| + |d shift|`` (``|x| @ |d W| + |d b|``), in Keras's layout,
    a line saying so, and the largest relative difference; None where the pair is not such a
    chain. A converter that folds in float32 leaves differences of float32's rounding, which the
    float64 bound alone (2**-53) would call a divergence; each difference counts up to
    ``ROUNDING_C`` float32 roundings of the value, no more (a wrong fold stays caught)."""
    from parity.model import carry
    from parity.model.torch_graph import chain_constants
    from parity.core.layout import torch_layout

    paths = chain_constants(tgraph, labels)
    if paths is None:
        return None
    want = carry.folded(kgraph, name, channels_first)
    have = [tgraph.attribute(tgraph.module, p).detach().cpu().numpy().astype(np.float64)
            for p in paths]
    if any(h.size != w.size for h, w in zip(have, want)):
        return None
    # only what storing the weights in float32 can explain counts: a difference beyond
    # ROUNDING_C float32 roundings of the value is a wrong weight, left for the comparison
    cap = [ROUNDING_C * unit_roundoff("float32") * np.abs(w.reshape(h.shape)) for h, w in
           zip(have, want)]
    d_scale, d_shift = (np.minimum(np.abs(h - w.reshape(h.shape)), c) for h, w, c in
                        zip(have, want, cap))
    x = np.abs(torch_layout(np.asarray(inputs[0], np.float64), channels_first))
    extra = (x @ d_scale if kgraph.kind(name) == "dense" else x * d_scale) + d_shift
    back = np.moveaxis(extra, 1, -1) if channels_first and extra.ndim > 2 else extra
    worst = max(float(d_scale.max(initial=0.0)), float(d_shift.max(initial=0.0)))
    rho = max(float(np.max(d / np.maximum(np.abs(w.reshape(d.shape)), 1e-300), initial=0.0))
              for d, w in ((d_scale, want[0]), (d_shift, want[1])))
    return back, (f"the bound includes the torch constants' difference from Keras's weights "
                  f"folded in float64 (largest {worst:.3g}, relative {rho:.3g}; the propagated "
                  "float64 bounds after it grow with it)"), rho
