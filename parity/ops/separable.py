"""SAME separable 2-D convolution: separable_conv2d_same.

Keras ``SeparableConv2D(padding="same", depth_multiplier=M, dilation_rate)`` and
``tf.nn.separable_conv2d`` run a depthwise convolution (each of the C channels against M
filters, SAME-padded, strided, dilated) and then a 1x1 pointwise convolution of the C*M
channels to the outputs, plus the bias. torch has no separable layer: the port is the grouped
SAME convolution ``groups=C`` then a 1x1 ``conv2d``; the common recipes are the same two layers
with ``padding="same"`` (refused at stride > 1) or ``padding=d*(k-1)//2``. Strides are equal in
both dimensions (TF's depthwise kernels refuse others on CPU: ``depthwise_conv2d_same``).

Inputs: ``x (N, C, H, W)``, ``wd (C*M, 1, kh, kw)``, ``wp (O, C*M, 1, 1)``, ``b (O,)``;
outputs ``y``, ``dx``, ``dwd``, ``dwp``, ``db``.

Bound. The reference runs the two convolutions in float64 and again on absolute values; each
output's bound is ``rounding_bound`` of those magnitudes with the summed term counts of both
stages: ``y``: ``M*k + C*M + 2`` (depthwise sum, the rounding of the intermediate, pointwise sum,
bias); ``dx``: ``O + M*k``; ``dwd``: ``O + N*P``; ``dwp``: ``N*P + M*k + 1``; ``db``: ``N*P``
(``k = kh*kw``, ``P`` output pixels).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from hypothesis import strategies as st

from parity.core import layout

from parity.spec import reference
from parity.core.tolerance import rounding_bound
from parity.core.config import ConvGeometry, require
from parity.core.numerics import DTYPES, case_rng, draw
from parity.ops.keras_layers import KerasLayer, tf_side
from parity.ops.sides import tf_outputs, torch_run
from parity.ops.conv import ConvConfig
from parity.spec.realistic import shaped_like
from parity.spec.registry import OpPair, Variant, register
from parity.spec.strategies import ordered_dtypes, size_for_stride

TENSORS = ("x", "wd", "wp", "b")


@dataclass(frozen=True)
class SeparableConfig(ConvGeometry):
    depth_multiplier: int = 1
    bias: bool = True
    dtype: str = "float32"

    def validate(self) -> None:
        self.require_geometry("depth_multiplier")
        require(self.rank == 2, f"separable_conv2d_same is 2-D: rank must be 2, got {self.rank}")
        require(self.stride[0] == self.stride[1],
                f"TF separable convolutions take equal strides, got {list(self.stride)}")

    pads = ConvConfig.pads                # TF SAME, as the depthwise stage pads
    out_spatial = ConvConfig.out_spatial


@st.composite
def _configs(draw_, dtypes):
    s = draw_(st.integers(1, 3))
    # TF refuses strides > 1 with dilation > 1: drawn rarely, to keep measuring it
    dilated = draw_(st.sampled_from((False, True)))
    if dilated and s > 1 and draw_(st.sampled_from((True, True, True, False))):
        s = 1
    dilation = tuple(draw_(st.integers(1, 3)) for _ in range(2)) if dilated else (1, 1)
    spatial = tuple(size_for_stride(draw_, s, 6) for _ in range(2))
    return SeparableConfig(rank=2, batch=draw_(st.integers(1, 3)),
                           in_channels=draw_(st.integers(1, 3)),
                           out_channels=draw_(st.integers(1, 4)), spatial=spatial,
                           kernel=tuple(draw_(st.integers(1, 5)) for _ in range(2)),
                           stride=(s, s), dilation=dilation,
                           depth_multiplier=draw_(st.integers(1, 3)), bias=draw_(st.booleans()),
                           dtype=draw_(st.sampled_from(ordered_dtypes(dtypes))))


def strategy(dtypes=DTYPES):
    return _configs(tuple(dtypes))


def make_inputs(c: SeparableConfig, seed: int) -> dict:
    """x, wd, wp, b (if any), dy uniform in [-1, 1)."""
    rng = case_rng(seed)
    mid = c.in_channels * c.depth_multiplier
    out = {"x": draw(rng, (c.batch, c.in_channels, *c.spatial), c.dtype),
           "wd": draw(rng, (mid, 1, *c.kernel), c.dtype),
           "wp": draw(rng, (c.out_channels, mid, 1, 1), c.dtype)}
    if c.bias:
        out["b"] = draw(rng, (c.out_channels,), c.dtype)
    out["dy"] = draw(rng, (c.batch, c.out_channels, *c.out_spatial), c.dtype)
    return out


# ---------------------------------------------------------------- TF sides
def _tf_run(c: SeparableConfig, inp: dict, separable) -> dict:
    """``separable(x, wd, wp, b)`` on channels-last tensors under a tape, y and gradients."""
    from parity.backends import tf as B

    tf = B.tf()
    x = B.constant(layout.channels_first_to_last(inp["x"]), c.dtype)
    wd = B.constant(layout.depthwise_torch_to_tf(inp["wd"], c.in_channels), c.dtype)
    wp = B.constant(layout.kernel_torch_to_tf(inp["wp"]), c.dtype)
    b = B.constant(inp["b"], c.dtype) if c.bias else None
    sources = {"x": x, "wd": wd, "wp": wp, **({"b": b} if c.bias else {})}
    with tf.GradientTape() as tape:
        tape.watch(list(sources.values()))
        y, sources = separable(tf, sources)
    return tf_outputs(c.dtype, inp, tape, y, sources,
                      {"x": layout.channels_last_to_first, "wd": layout.depthwise_tf_to_torch,
                       "wp": layout.kernel_tf_to_torch})


def tf_nn(c: SeparableConfig, inp: dict) -> dict:
    """tf.nn.separable_conv2d(padding="SAME"), NHWC, then tf.nn.bias_add."""
    def separable(tf, s):
        y = tf.nn.separable_conv2d(s["x"], s["wd"], s["wp"], strides=(1, *c.stride, 1),
                                   padding="SAME", dilations=c.dilation)
        return (tf.nn.bias_add(y, s["b"]) if c.bias else y), s
    return _tf_run(c, inp, separable)


def _build_keras(keras, c: SeparableConfig, dtype: str):
    return keras.layers.SeparableConv2D(
        c.out_channels, c.kernel, strides=c.stride, padding="same", dilation_rate=c.dilation,
        depth_multiplier=c.depth_multiplier, use_bias=c.bias, dtype=dtype)


KERAS_LAYER = KerasLayer(
    _build_keras,
    weights=lambda c, inp: [layout.depthwise_torch_to_tf(inp["wd"], c.in_channels),
                            layout.kernel_torch_to_tf(inp["wp"])] + ([inp["b"]] if c.bias else []),
    grads=lambda c: (("wd", "depthwise_kernel", layout.depthwise_tf_to_torch),
                     ("wp", "pointwise_kernel", layout.kernel_tf_to_torch))
    + ((("b", "bias", lambda a: a),) if c.bias else ()))
"""keras.layers.SeparableConv2D(padding="same") with the case's weights."""


# ---------------------------------------------------------------- torch sides
def candidate_side(fn):
    """``fn(x, depthwise_weight, pointwise_weight, bias, stride=(s, s), dilation=(dh, dw))``
    as a torch side."""
    def side(c: SeparableConfig, inp: dict) -> dict:
        return torch_run(c.dtype, inp, lambda x, wd, wp, b: fn(
            x, wd, wp, b, stride=c.stride, dilation=c.dilation), TENSORS)
    return side


def _port(x, wd, wp, b, stride, dilation):
    from parity.ports.conv import separable_conv2d_same

    return separable_conv2d_same(x, wd, wp, b, stride=stride, dilation=dilation)


def _two_layers(padding):
    """The torch recipe: ``Conv2d(C, C*M, k, groups=C, padding=padding(k, d))`` then a 1x1
    ``Conv2d(C*M, O)``."""
    def recipe(x, wd, wp, b, stride, dilation):
        from parity.backends import torch as B

        F = B.torch().nn.functional
        pad = padding(tuple(wd.shape[2:]), dilation)
        return F.conv2d(F.conv2d(x, wd, None, stride, pad, dilation, x.shape[1]), wp, b)
    return recipe


native = _two_layers(lambda kernel, dilation: "same")
symmetric = _two_layers(lambda kernel, dilation: tuple(d * (k - 1) // 2
                                                       for k, d in zip(kernel, dilation)))


# ---------------------------------------------------------------- reference and bound
def _stages(c: SeparableConfig, x, wd, wp, b, dy) -> dict:
    """Depthwise then pointwise in float64, forward and backward."""
    h = reference.conv_forward(x, wd, c.pads, c.stride, c.dilation, c.in_channels)
    point = reference.conv_all(h, wp, b, dy, [(0, 0), (0, 0)], (1, 1), (1, 1), 1)
    depth = reference.conv_all(x, wd, None, point["dx"], c.pads, c.stride, c.dilation,
                               c.in_channels)
    out = {"y": point["y"], "dx": depth["dx"], "dwd": depth["dw"], "dwp": point["dw"]}
    if b is not None:
        out["db"] = point["db"]
    return out


def reference_and_bounds(c: SeparableConfig, inp: dict) -> tuple[dict, dict]:
    """Exact float64 outputs and their per-element bounds (module docstring)."""
    names = ("x", "wd", "wp", "b", "dy")
    exact = _stages(c, *(inp.get(n) for n in names))
    magnitude = _stages(c, *(None if inp.get(n) is None else np.abs(inp[n]) for n in names))
    k = c.depth_multiplier * math.prod(c.kernel)
    n_out = c.batch * math.prod(c.out_spatial)
    n = {"y": k + c.in_channels * c.depth_multiplier + 2, "dx": c.out_channels + k,
         "dwd": c.out_channels + n_out, "dwp": n_out + k + 1, "db": n_out}
    return exact, {name: rounding_bound(m, n[name], c.dtype) for name, m in magnitude.items()}


register(OpPair(
    name="separable_conv2d_same", family="conv",
    description="SAME separable 2-D convolution (depthwise with a channel multiplier, then "
                "pointwise), stride, dilation",
    config_type=SeparableConfig, strategy=strategy, realistic=shaped_like("separable", strategy),
    make_inputs=make_inputs,
    reference=reference_and_bounds,
    tf_sides={"tf.nn": tf_nn, "keras": tf_side(KERAS_LAYER)}, audit_tf="tf.nn",
    torch_sides={"port": candidate_side(_port), "native": candidate_side(native),
                 "symmetric": candidate_side(symmetric)},
    variants={
        "port": Variant("port", "tf.nn", "port",
                        "tf.nn.separable_conv2d SAME vs parity.ports.separable_conv2d_same"),
        "keras": Variant("keras", "keras", "port",
                         'keras.layers.SeparableConv2D(padding="same") vs parity.ports'),
        "native": Variant("native", "tf.nn", "native",
                          'tf.nn.separable_conv2d vs torch depthwise padding="same" + 1x1 conv'),
        "symmetric": Variant("symmetric", "tf.nn", "symmetric",
                             "tf.nn.separable_conv2d vs torch depthwise padding=d*(k-1)//2 + "
                             "1x1 conv"),
    },
    candidate_side=candidate_side,
    candidate_doc="fn(input, depthwise_weight, pointwise_weight, bias, stride=(s, s), "
                  "dilation=(dh, dw)) -> output; NCHW input, depthwise weight (C*M, 1, kh, kw), "
                  "pointwise weight (out, C*M, 1, 1), bias or None",
    outputs=("y", "dx", "dwd", "dwp", "db"), tags=("same-conv",),
    tf32_outputs=("y", "dx", "dwd", "dwp")))
