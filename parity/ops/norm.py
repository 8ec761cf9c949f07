"""l2_normalize and weight_standardization.

Config -> strategy -> TF sides -> torch sides -> float64 reference -> bound.

``l2_normalize``: ``tf.math.l2_normalize`` vs ``parity.ports.l2_normalize`` (``port``) and
``torch.nn.functional.normalize`` (``native``). Reference: TF's definition
``y = x / sqrt(max(s, eps))``, ``s = sum(x**2)`` over the axes, in float64.

``weight_standardization``: a conv kernel standardized per output channel. ``seed`` pairs the
two snippets of seeds/002 (Keras: biased ``K.std``; PyTorch: ``Tensor.std``, unbiased, written
for 4-D weights only); ``port`` pairs the Keras snippet with
``parity.ports.weight_standardize``. Reference: the Keras snippet's arithmetic in float64.

Bounds: each output element is a sum of ``n`` squares (or terms) followed by a few
correctly rounded operations: ``rounding_bound(M, n + 3)`` with ``M`` the float64 magnitude of
the element (``|y|`` plus, for gradients, the absolute values of every term).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from hypothesis import strategies as st

from parity.core import layout
from parity.core.tolerance import rounding_bound
from parity.core.config import Config, require, require_dtype, require_geometry
from parity.core.numerics import DTYPES, case_rng, draw, round_to
from parity.ops.sides import LAYOUT_FREE, tf_outputs, torch_run
from parity.spec.registry import OpPair, Variant, register
from parity.spec.strategies import ordered_dtypes

FILLS = ("uniform", "zeros", "tiny", "huge")
EPSILONS = (1e-12, 1e-6, 1e-3, 0.0)


@dataclass(frozen=True)
class L2Config(Config):
    shape: tuple[int, ...]
    axis: tuple[int, ...]
    epsilon: float = 1e-12
    fill: str = "uniform"
    dtype: str = "float32"

    def validate(self) -> None:
        require(1 <= len(self.shape) <= 4 and all(n >= 1 for n in self.shape),
                f"shape needs 1 to 4 sizes >= 1, got {list(self.shape)}")
        require(len(self.axis) >= 1 and len(set(self.axis)) == len(self.axis) and
                all(0 <= a < len(self.shape) for a in self.axis),
                f"axis must be distinct axes of the shape, got {list(self.axis)}")
        require(self.epsilon >= 0, "epsilon must be >= 0")
        require(self.fill in FILLS, f"fill must be one of {', '.join(FILLS)}")
        require_dtype(self.dtype)


@st.composite
def _l2_configs(draw_, dtypes):
    rank = draw_(st.integers(1, 4))
    shape = tuple(draw_(st.integers(1, 6)) for _ in range(rank))
    axis = tuple(sorted(draw_(st.sets(st.integers(0, rank - 1), min_size=1))))
    return L2Config(shape=shape, axis=axis, epsilon=draw_(st.sampled_from(EPSILONS)),
                    fill=draw_(st.sampled_from(FILLS)),
                    dtype=draw_(st.sampled_from(ordered_dtypes(dtypes))))


def _scale(fill: str, dtype: str) -> float:
    """tiny: squared norms below the default epsilon; huge: squares that overflow the dtype."""
    big = {"float16": 512.0, "bfloat16": 2e19, "float32": 2e19, "float64": 2e154}[dtype]
    small = {"float16": 1e-3, "bfloat16": 1e-7, "float32": 1e-7, "float64": 1e-7}[dtype]
    return {"uniform": 1.0, "zeros": 1.0, "tiny": small, "huge": big}[fill]


def l2_inputs(c: L2Config, seed: int) -> dict:
    rng = case_rng(seed)
    x = rng.uniform(-1, 1, c.shape) * _scale(c.fill, c.dtype)
    if c.fill == "zeros":  # zero out whole vectors along the normalized axes, about half of them
        keep = rng.random([1 if i in c.axis else n for i, n in enumerate(c.shape)]) < 0.5
        x = x * keep
    return {"x": round_to(x, c.dtype), "dy": draw(rng, c.shape, c.dtype)}


def tf_l2(c: L2Config, inp: dict) -> dict:
    """tf.math.l2_normalize(x, axis, epsilon)."""
    from parity.backends import tf as B

    tf = B.tf()
    x = B.constant(inp["x"], c.dtype)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.math.l2_normalize(x, axis=list(c.axis), epsilon=c.epsilon)
    return tf_outputs(c.dtype, inp, tape, y, {"x": x}, {}, **LAYOUT_FREE)


def keras_unit_norm(keras, c: L2Config, x):
    """``keras.ops.normalize(x, axis, order=2, epsilon=sqrt(c.epsilon))``, what
    keras.layers.UnitNormalization(axis) calls (with its fixed epsilon 1e-12). Keras computes
    ``x * min(rsqrt(sum(x*x)), 1/epsilon)``: its epsilon bounds the norm, TF's
    ``tf.math.l2_normalize`` the squared norm, so the square root of the config's epsilon gives
    the op's formula (and its reference and bounds); UnitNormalization is the case epsilon=1e-24."""
    import math

    return keras.ops.normalize(x, axis=list(c.axis), order=2, epsilon=math.sqrt(c.epsilon))


def tf_keras_unit_norm(c: L2Config, inp: dict) -> dict:
    """keras.ops.normalize (keras.layers.UnitNormalization's call) on TF (``keras_unit_norm``)."""
    from parity.backends import tf as B

    tf = B.tf()
    x = B.constant(inp["x"], c.dtype)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = keras_unit_norm(B.keras(), c, x)
    return tf_outputs(c.dtype, inp, tape, y, {"x": x}, {}, **LAYOUT_FREE)


def l2_port(x, dim, eps):
    """parity.ports.l2_normalize."""
    from parity.ports.norm import l2_normalize

    return l2_normalize(x, dim, eps)


def l2_native(x, dim, eps):
    """torch.nn.functional.normalize(p=2), epsilon copied as is."""
    from parity.backends import torch as B

    return B.torch().nn.functional.normalize(x, p=2.0, dim=dim, eps=eps)


@np.errstate(all="ignore")
def l2_reference(c: L2Config, inp: dict) -> tuple[dict, dict]:
    """TF's formula in float64, scaled by each vector's largest magnitude ``m`` so that no
    square overflows or underflows (the ``huge`` float64 fill squares past float64's range):
    ``s = m**2 * t`` with ``t = sum((x / m)**2)`` in ``[1, n]``, ``r = rsqrt(max(s, eps))``."""
    x, dy = inp["x"], inp["dy"]
    m = np.max(np.abs(x), axis=c.axis, keepdims=True)
    m = np.where(m > 0, m, 1.0)   # a zero vector: any scale
    xs = x / m
    t = np.sum(xs * xs, axis=c.axis, keepdims=True)
    clamped = m * np.sqrt(t) < math.sqrt(c.epsilon)   # s < epsilon
    # r = 1 / sqrt(max(s, eps)) as r_scaled / m, and r**3 * x as r_scaled**3 * xs / m
    rs = np.where(clamped, m / math.sqrt(c.epsilon) if c.epsilon > 0 else np.inf, 1 / np.sqrt(t))
    y = xs * rs
    proj = np.sum(xs * dy, axis=c.axis, keepdims=True)
    dx = np.where(clamped, dy * rs / m, (dy * rs - xs * proj * rs ** 3) / m)
    n = math.prod(c.shape[a] for a in c.axis)
    mag_dx = (np.abs(dy) * rs + np.abs(xs) * np.sum(np.abs(xs * dy), axis=c.axis, keepdims=True)
              * rs ** 3) / m
    return {"y": y, "dx": dx}, {"y": rounding_bound(np.abs(y), n + 3, c.dtype),
                                "dx": rounding_bound(mag_dx, n + 3, c.dtype)}


def _candidate_l2(fn):
    """``fn(input, dim=(axes...), eps=epsilon)`` with TF's meaning."""
    def side(c: L2Config, inp: dict) -> dict:
        return torch_run(c.dtype, inp, lambda x: fn(x, dim=c.axis, eps=c.epsilon), params=("x",))
    return side


register(OpPair(
    name="l2_normalize", family="norm",
    description="tf.math.l2_normalize vs torch (epsilon bounds the squared norm in TF, the norm "
                "in torch)",
    config_type=L2Config, strategy=lambda dtypes=DTYPES: _l2_configs(tuple(dtypes)),
    make_inputs=l2_inputs, reference=l2_reference, tf_sides={"tf": tf_l2, "keras": tf_keras_unit_norm}, audit_tf="tf",
    torch_sides={"port": _candidate_l2(l2_port), "native": _candidate_l2(l2_native)},
    variants={"port": Variant("port", "tf", "port", "tf.math.l2_normalize vs parity.ports"),
              "native": Variant("native", "tf", "native",
                                "tf.math.l2_normalize vs torch.nn.functional.normalize")},
    candidate_side=_candidate_l2,
    candidate_doc="fn(input, dim=(axes...), eps=epsilon) -> output, TF semantics",
    outputs=("y", "dx")))


# ---------------------------------------------------------------- weight standardization
@dataclass(frozen=True)
class WSConfig(Config):
    """A conv kernel in torch layout ``(out, in, *k)``; rank = number of spatial dims."""
    rank: int
    out_channels: int
    in_channels: int
    kernel: tuple[int, ...]
    epsilon: float = 1e-5
    dtype: str = "float32"

    def validate(self) -> None:
        require_geometry(self, ("kernel",), ("out_channels", "in_channels"))
        require(self.epsilon >= 0, "epsilon must be >= 0")

    @property
    def shape(self) -> tuple[int, ...]:
        return (self.out_channels, self.in_channels, *self.kernel)


@st.composite
def _ws_configs(draw_, dtypes):
    rank = draw_(st.integers(1, 3))
    return WSConfig(rank=rank, out_channels=draw_(st.integers(1, 4)),
                    in_channels=draw_(st.integers(1, 4)),
                    kernel=tuple(draw_(st.integers(1, 7)) for _ in range(rank)),
                    dtype=draw_(st.sampled_from(ordered_dtypes(dtypes))))


def ws_inputs(c: WSConfig, seed: int) -> dict:
    rng = case_rng(seed)
    return {"w": draw(rng, c.shape, c.dtype), "dy": draw(rng, c.shape, c.dtype)}


def tf_ws_seed(c: WSConfig, inp: dict) -> dict:
    """The Keras snippet of seeds/002 on the TF kernel ``(*k, in, out)``, verbatim arithmetic."""
    from parity.backends import tf as B

    tf, keras = B.tf(), B.keras()
    kernel = B.constant(layout.kernel_torch_to_tf(inp["w"]), c.dtype)
    axes = list(range(c.rank + 1))  # [0, 1, 2] for a 2-D kernel: all but the output axis
    with tf.GradientTape() as tape:
        tape.watch(kernel)
        k = kernel - tf.math.reduce_mean(kernel, axis=axes, keepdims=True)
        std = keras.ops.std(k, axis=axes, keepdims=True)  # keras.backend.std in Keras 2
        k = k / (std + c.epsilon)
    return tf_outputs(c.dtype, inp, tape, k, {"w": kernel}, {"w": layout.kernel_tf_to_torch},
                      y_from_tf=layout.kernel_tf_to_torch, dy_to_tf=layout.kernel_torch_to_tf)


def torch_ws_port(c: WSConfig, inp: dict) -> dict:
    from parity.ports.norm import weight_standardize

    return torch_run(c.dtype, inp, lambda w: weight_standardize(w, c.epsilon), params=("w",))


def torch_ws_seed(c: WSConfig, inp: dict) -> dict:
    from parity.spec.recipes import seed_weight_standardize

    return torch_run(c.dtype, inp, seed_weight_standardize, params=("w",))


@np.errstate(all="ignore")
def ws_math(w, dy, eps, absolute: bool = False):
    """``y = (w - mean) / (std + eps)`` per output channel (biased std) and ``dw`` for upstream
    ``dy``; with ``absolute`` the same chain on absolute values (the magnitudes for bounds)."""
    axes = tuple(range(1, w.ndim))
    n = math.prod(w.shape[1:])
    cen = w - w.mean(axis=axes, keepdims=True)
    sigma = np.sqrt((cen * cen).mean(axis=axes, keepdims=True))
    g = 1.0 / (sigma + eps)
    # the path through sigma(c), (c / sigma) * sum(dy * c) / n: at a constant channel
    # (sigma = 0, c = 0) its limit is 0 (|c|**2 / sigma -> 0), not sqrt'(0) * 0 = NaN
    through_sigma = np.where(sigma > 0, g * g / (n * np.where(sigma > 0, sigma, 1.0)), 0.0)
    if absolute:
        y = (np.abs(w) + np.abs(w).mean(axis=axes, keepdims=True)) * g + np.abs(cen * g)
        dc = np.abs(dy) * g + np.abs(cen) * np.sum(np.abs(dy * cen), axis=axes,
                                                   keepdims=True) * through_sigma
        return y, dc + dc.mean(axis=axes, keepdims=True)
    # d/dw of sum(dy * y): through c (centering) and through sigma(c)
    dc = dy * g - cen * np.sum(dy * cen, axis=axes, keepdims=True) * through_sigma
    return cen * g, dc - dc.mean(axis=axes, keepdims=True)


def ws_reference(c: WSConfig, inp: dict) -> tuple[dict, dict]:
    n = math.prod(c.shape[1:])
    y, dw = ws_math(inp["w"], inp["dy"], c.epsilon)
    mag_y, mag_dw = ws_math(inp["w"], inp["dy"], c.epsilon, absolute=True)
    return {"y": y, "dw": dw}, {"y": rounding_bound(mag_y, n + 3, c.dtype),
                                "dw": rounding_bound(mag_dw, n + 3, c.dtype)}


register(OpPair(
    name="weight_standardization", family="norm",
    description="conv kernel standardized per output channel: seeds/002's Keras and PyTorch "
                "snippets, and parity.ports.weight_standardize",
    config_type=WSConfig, strategy=lambda dtypes=DTYPES: _ws_configs(tuple(dtypes)),
    make_inputs=ws_inputs, reference=ws_reference, tf_sides={"seed": tf_ws_seed}, audit_tf="seed",
    torch_sides={"port": torch_ws_port, "seed": torch_ws_seed},
    variants={"port": Variant("port", "seed", "port",
                              "seeds/002 Keras snippet vs parity.ports.weight_standardize"),
              "seed": Variant("seed", "seed", "seed",
                              "seeds/002 Keras snippet vs its PyTorch snippet")},
    candidate_side=lambda fn: (lambda c, inp: torch_run(c.dtype, inp, lambda w: fn(w, eps=c.epsilon),
                                                        params=("w",))),
    candidate_doc="fn(weight, eps=epsilon) -> standardized weight; torch layout (out, in, *k), "
                  "per output channel, biased std",
    outputs=("y", "dw")))
