"""2-D resizing: resize2d.

``tf.image.resize(method, antialias)`` and Keras ``UpSampling2D(interpolation)`` against
``torch.nn.functional.interpolate`` (``align_corners`` False and True, ``antialias``) and the
port ``parity.ports.resize2d``, up and down, by integer and non-integer factors. The methods and
what TF computes for each are in ``parity.ports.resize``.

Reference and bound. Every method is ``y = Wh x Ww^T`` with one weight matrix per axis
(``parity.ports.resize.resize_weights`` at exact float64 positions; the nearest index and the
bicubic table as TF defines them), so the float64 reference is that product and ``dx`` its
transpose ``Wh^T dy Ww``. The bound is ``rounding_bound`` of ``|Wh| |x| |Ww|^T`` (``n``: taps per
output) plus the error of sampling positions rounded to float32 by both frameworks (float64
for float64 input): each nonzero weight may move by ``slope * u * (n + 2)``, ``u`` the unit
roundoff of the positions and ``slope`` the kernel's steepest slope (1 for linear and area,
1.5 for cubic, times the antialias stretch); so may the zero weights next to them (a position
on a pixel centre, rounded, reaches the neighbour).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from hypothesis import strategies as st

from parity.core import layout
from parity.core.tolerance import rounding_bound
from parity.core.config import ChannelsInput, require, require_geometry
from parity.core.numerics import DTYPES, case_rng, draw, unit_roundoff
from parity.ops.keras_layers import KerasLayer
from parity.ops.sides import tf_outputs, torch_run
from parity.spec.registry import OpPair, Variant, register
from parity.spec.strategies import ordered_dtypes

METHODS = ("bilinear", "nearest", "bicubic", "area")
_TORCH_MODE = {"bilinear": "bilinear", "nearest": "nearest", "bicubic": "bicubic",
               "area": "area"}


@dataclass(frozen=True)
class ResizeConfig(ChannelsInput):
    size: tuple[int, ...] = (1, 1)
    method: str = "bilinear"
    antialias: bool = False
    dtype: str = "float32"

    def validate(self) -> None:
        require_geometry(self, ("spatial", "size"), ("batch", "channels"))
        require(self.rank == 2, f"resize2d is 2-D: rank must be 2, got {self.rank}")
        require(self.method in METHODS,
                f"method must be one of {', '.join(METHODS)}, got {self.method!r}")
        require(not self.antialias or self.method in ("bilinear", "bicubic"),
                f"antialias applies to bilinear and bicubic, not {self.method}")


@st.composite
def _axis(draw_):
    """(input, output) sizes: an integer factor up or down, or any two sizes."""
    kind = draw_(st.sampled_from(("up", "down", "any")))
    if kind == "up":
        n = draw_(st.integers(1, 6))
        return n, n * draw_(st.integers(2, 3))
    if kind == "down":
        o = draw_(st.integers(1, 5))
        return o * draw_(st.integers(2, 3)), o
    return draw_(st.integers(1, 12)), draw_(st.integers(1, 12))


@st.composite
def _configs(draw_, dtypes):
    (h, oh), (w, ow) = draw_(_axis()), draw_(_axis())
    method = draw_(st.sampled_from(METHODS))
    return ResizeConfig(rank=2, batch=draw_(st.integers(1, 2)), channels=draw_(st.integers(1, 3)),
                        spatial=(h, w), size=(oh, ow), method=method,
                        antialias=method in ("bilinear", "bicubic") and draw_(st.booleans()),
                        dtype=draw_(st.sampled_from(ordered_dtypes(dtypes))))


def strategy(dtypes=DTYPES):
    return _configs(tuple(dtypes))


def make_inputs(c: ResizeConfig, seed: int) -> dict:
    """x and the upstream gradient dy uniform in [-1, 1)."""
    rng = case_rng(seed)
    return {"x": draw(rng, (c.batch, c.channels, *c.spatial), c.dtype),
            "dy": draw(rng, (c.batch, c.channels, *c.size), c.dtype)}


# ---------------------------------------------------------------- TF sides
def _tf_run(c: ResizeConfig, inp: dict, resize) -> dict:
    from parity.backends import tf as B

    tf = B.tf()
    x = B.constant(layout.channels_first_to_last(inp["x"]), c.dtype)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.cast(resize(x), x.dtype)
    return tf_outputs(c.dtype, inp, tape, y, {"x": x}, {"x": layout.channels_last_to_first})


def tf_image(c: ResizeConfig, inp: dict) -> dict:
    """tf.image.resize(method, antialias), NHWC, cast back to the input's dtype (it returns
    float32 for every method but nearest)."""
    from parity.backends import tf as B

    return _tf_run(c, inp, lambda x: B.tf().image.resize(x, c.size, method=c.method,
                                                         antialias=c.antialias))


def upsampling_factors(c: ResizeConfig) -> tuple[int, ...] | None:
    """The UpSampling2D ``size`` that gives this config, or None where none does (Keras
    upsamples by integer factors, nearest or bilinear, without antialias)."""
    if c.method not in ("nearest", "bilinear") or c.antialias or \
            any(o % n for n, o in zip(c.spatial, c.size)):
        return None
    return tuple(o // n for n, o in zip(c.spatial, c.size))


def _build_upsampling(keras, c: ResizeConfig, dtype: str):
    factors = upsampling_factors(c)
    if factors is None:
        raise ValueError(f"UpSampling2D has no (size, interpolation) for {c.spatial} -> "
                         f"{c.size} {c.method}{' antialias' if c.antialias else ''}: it "
                         f"upsamples by integer factors, nearest or bilinear")
    return keras.layers.UpSampling2D(size=factors, interpolation=c.method, dtype=dtype)


UPSAMPLING = KerasLayer(_build_upsampling)
"""keras.layers.UpSampling2D(size, interpolation), channels last."""


def tf_upsampling(c: ResizeConfig, inp: dict) -> dict:
    """keras.layers.UpSampling2D(size, interpolation), channels last."""
    from parity.backends import tf as B

    return _tf_run(c, inp, UPSAMPLING.build(B.keras(), c, c.dtype))


# ---------------------------------------------------------------- torch sides
def candidate_side(fn):
    """``fn(x, size=(oh, ow), method=..., antialias=...)`` as a torch side."""
    def side(c: ResizeConfig, inp: dict) -> dict:
        return torch_run(c.dtype, inp, lambda x: fn(x, size=c.size, method=c.method,
                                                    antialias=c.antialias), ("x",))
    return side


def _port(x, size, method, antialias):
    from parity.ports.resize import resize2d

    return resize2d(x, size, method, antialias)


def _interpolate(align_corners: bool):
    def interpolate(x, size, method, antialias):
        from parity.backends import torch as B

        linear = method in ("bilinear", "bicubic")
        return B.torch().nn.functional.interpolate(
            x, size=size, mode=_TORCH_MODE[method], antialias=antialias,
            align_corners=align_corners if linear or align_corners else None)
    return interpolate


# ---------------------------------------------------------------- reference and bound
_SLOPE = {"bilinear": 1.0, "area": 1.0, "bicubic": 1.5, "nearest": 0.0}


def _axis_weights(c: ResizeConfig, axis: int) -> tuple[np.ndarray, np.ndarray]:
    """The exact weight matrix of one axis and the size of each weight's position error."""
    from parity.ports.resize import resize_weights

    n, out = c.spatial[axis], c.size[axis]
    w = resize_weights(n, out, c.method, c.antialias, np.float64)
    u = unit_roundoff("float64" if c.dtype == "float64" else "float32")  # the positions
    stretch = max(n / out, 1.0) if c.antialias else 1.0
    slope = _SLOPE[c.method] * (1.0 if c.method != "area" else max(out / n, 1.0)) * stretch
    near = w != 0   # a weight and its neighbours: a rounded position can move onto them
    near[:, 1:] |= near[:, :-1].copy()
    near[:, :-1] |= (w != 0)[:, 1:]
    return w, near * (2.0 * slope * u * (max(n, out) + 2))


def reference_and_bounds(c: ResizeConfig, inp: dict) -> tuple[dict, dict]:
    """Exact float64 y and dx and their per-element bounds (module docstring)."""
    (wh, eh), (ww, ew) = _axis_weights(c, 0), _axis_weights(c, 1)
    x, dy = inp["x"], inp["dy"]

    def apply(a, b, t):
        return np.einsum("oh,nchw,pw->ncop", a, t, b)

    def bound(a, b, ea, eb, t, taps):
        magnitude = apply(np.abs(a), np.abs(b), np.abs(t))
        moved = apply(ea, np.abs(b), np.abs(t)) + apply(np.abs(a), eb, np.abs(t)) + \
            apply(ea, eb, np.abs(t))
        return rounding_bound(magnitude, taps, c.dtype) + 2.0 * moved

    def taps(a, axis):
        return max(1, int((a != 0).sum(axis).max()))

    exact = {"y": apply(wh, ww, x), "dx": apply(wh.T, ww.T, dy)}
    return exact, {
        "y": bound(wh, ww, eh, ew, x, taps(wh, 1) * taps(ww, 1)),
        "dx": bound(wh.T, ww.T, eh.T, ew.T, dy, taps(wh, 0) * taps(ww, 0))}


register(OpPair(
    name="resize2d", family="resize",
    description="2-D resizing: tf.image.resize (bilinear, nearest, bicubic, area; antialias) "
                "and Keras UpSampling2D vs torch interpolate, up and down, any factor",
    config_type=ResizeConfig, strategy=strategy, make_inputs=make_inputs,
    reference=reference_and_bounds,
    tf_sides={"tf.image": tf_image, "upsampling": tf_upsampling}, audit_tf="tf.image",
    torch_sides={"port": candidate_side(_port), "native": candidate_side(_interpolate(False)),
                 "align_corners": candidate_side(_interpolate(True))},
    variants={
        "port": Variant("port", "tf.image", "port", "tf.image.resize vs parity.ports.resize2d"),
        "upsampling": Variant("upsampling", "upsampling", "port",
                              "keras.layers.UpSampling2D vs parity.ports.resize2d"),
        "native": Variant("native", "tf.image", "native",
                          "tf.image.resize vs torch interpolate(mode, align_corners=False, "
                          "antialias)"),
        "align_corners": Variant("align_corners", "tf.image", "align_corners",
                                 "tf.image.resize vs torch interpolate(align_corners=True)"),
    },
    candidate_side=candidate_side,
    candidate_doc="fn(input, size=(oh, ow), method='bilinear'|'nearest'|'bicubic'|'area', "
                  "antialias=bool) -> output; NCHW input",
    outputs=("y", "dx"), tf32_outputs=("y", "dx")))
