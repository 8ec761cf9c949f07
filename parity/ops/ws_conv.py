"""ws_conv2d_same: weight standardization, then SAME convolution, end to end.

TF side: the Keras snippet of seeds/002 on the HWIO kernel, then ``tf.nn.conv2d(SAME)``.
Torch sides: ``port`` = ``parity.ports.weight_standardize`` + ``parity.ports.conv2d_same``;
``seed`` = the PyTorch snippet of seeds/002 + ``conv2d_same`` (so only the standardization
differs). Gradients are taken with respect to the raw kernel.

Reference and bound: the float64 conv reference on the standardized kernel, with ``dw``
carried back through the standardization (``parity.ops.norm.ws_math``); bounds from the same
chains on absolute values, ``n`` the longer of the two reductions.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from parity.spec import reference
from parity.core.tolerance import rounding_bound
from parity.core.numerics import DTYPES
from parity.ops import conv
from parity.ops.norm import ws_math
from parity.ops.sides import torch_run
from parity.spec.registry import OpPair, Variant, register


@dataclass(frozen=True)
class WSConvConfig(conv.ConvConfig):
    epsilon: float = 1e-5


def strategy(dtypes=DTYPES):
    return conv.strategy_for(2)(dtypes).map(lambda c: WSConvConfig.from_dict(c.to_dict()))


def tf_side(c: WSConvConfig, inp: dict) -> dict:
    from parity.backends import tf as B

    keras = B.keras()

    def standardized_conv(tf, x, w):
        k = w - tf.math.reduce_mean(w, axis=[0, 1, 2], keepdims=True)
        k = k / (keras.ops.std(k, axis=[0, 1, 2], keepdims=True) + c.epsilon)
        return tf.nn.conv2d(x, k, strides=c.stride, padding="SAME", dilations=c.dilation)
    return conv._tf_run(c, inp, False, standardized_conv)


def torch_side(standardize):
    def side(c: WSConvConfig, inp: dict) -> dict:
        from parity.ports.conv import conv2d_same

        return torch_run(c.dtype, inp, lambda x, w, b: conv2d_same(
            x, standardize(c, w), b, c.stride, c.dilation, c.groups))
    return side


def _port(c, w):
    from parity.ports.norm import weight_standardize
    return weight_standardize(w, c.epsilon)


def _seed(c, w):
    from parity.spec.recipes import seed_weight_standardize
    return seed_weight_standardize(w)


def reference_and_bounds(c: WSConvConfig, inp: dict) -> tuple[dict, dict]:
    x, w, b, dy = inp["x"], inp["w"], inp.get("b"), inp["dy"]
    ws, _ = ws_math(w, np.zeros_like(w), c.epsilon)
    args = (c.pads, c.stride, c.dilation, c.groups)
    exact = reference.conv_all(x, ws, b, dy, *args)
    _, exact["dw"] = ws_math(w, exact["dw"], c.epsilon)
    mag_ws, _ = ws_math(w, np.zeros_like(w), c.epsilon, absolute=True)
    mag = reference.conv_all(np.abs(x), mag_ws, None if b is None else np.abs(b), np.abs(dy),
                             *args)
    _, mag["dw"] = ws_math(w, mag["dw"], c.epsilon, absolute=True)
    k = math.prod(c.kernel)
    per_channel = (c.in_channels // c.groups) * k
    n_out = c.batch * math.prod(c.out_spatial)
    n = {"y": 2 * per_channel + 4, "dx": (c.out_channels // c.groups) * k + per_channel + 3,
         "dw": n_out + per_channel + 3, "db": n_out}
    return exact, {name: rounding_bound(mag[name], n[name], c.dtype) for name in exact}


register(OpPair(
    name="ws_conv2d_same", family="norm",
    description="weight standardization then SAME conv2d, end to end (gradients to the raw kernel)",
    config_type=WSConvConfig, strategy=strategy, make_inputs=conv.make_inputs,
    reference=reference_and_bounds, tf_sides={"tf": tf_side}, audit_tf="tf",
    torch_sides={"port": torch_side(_port), "seed": torch_side(_seed)},
    variants={"port": Variant("port", "tf", "port", "Keras WS snippet + tf.nn.conv2d vs "
                              "parity.ports.weight_standardize + conv2d_same"),
              "seed": Variant("seed", "tf", "seed", "Keras WS snippet + tf.nn.conv2d vs the "
                              "PyTorch WS snippet + conv2d_same")},
    candidate_side=lambda fn: (lambda c, inp: torch_run(c.dtype, inp, lambda x, w, b: fn(
        x, w, b, stride=c.stride, dilation=c.dilation, groups=c.groups, eps=c.epsilon))),
    candidate_doc="fn(input, weight, bias, stride=, dilation=, groups=, eps=) -> output: "
                  "standardize the raw (out, in/groups, kh, kw) weight, then TF SAME conv",
    tf32_outputs=("y", "dx", "dw")))
