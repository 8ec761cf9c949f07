"""Transposed convolution, both directions.

* ``conv_transpose{1,2,3}d``: Keras/TF arguments (``padding`` same/valid, ``output_padding``
  or none); the output size is Keras's ``deconv_output_length``, which over all
  ``output_padding`` values covers every ``output_shape`` that ``tf.nn.conv*d_transpose``
  accepts for the input. Variants: ``port`` (tf.nn vs ``parity.ports.conv_transpose*d_tf``),
  ``keras`` (Keras ``Conv*DTranspose`` vs the port), ``native`` (tf.nn vs torch
  ``ConvTranspose*d`` with the textbook ``padding = d*(k-1)//2`` (0 for valid) and
  ``output_padding`` = Keras's or ``s - 1`` (0 for valid)).
* ``conv_transpose{1,2,3}d_torch``: torch arguments (``padding``, ``output_padding``);
  variant ``port``: ``parity.ports.tf.conv_transpose_torch`` (TF) vs torch.

Groups are 1 (Keras has none for transposed convs; TF's CPU grouped gradients are refused).
Arguments whose output would be empty are not drawn: there is nothing to compare.

Bound: ``y[i]`` sums at most ``Cin * prod(k)`` products plus the bias, ``dx[i]``
``Cout * prod(k)``, ``dw`` and ``db`` ``N * prod(n)`` and ``N * prod(out)``; magnitudes from
the same float64 arithmetic on absolute values.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from hypothesis import assume, strategies as st

from parity.core import layout

from parity.spec import reference
from parity.core.tolerance import rounding_bound
from parity.core.config import ConvGeometry, require
from parity.core.numerics import DTYPES, case_rng, draw
from parity.core.padding import keras_output_length, tf_window_start
from parity.ops.keras_layers import KerasLayer, on_tf
from parity.ops.sides import tf_conv_run, torch_run
from parity.spec.realistic import shaped_like
from parity.spec.registry import OpPair, Variant, register
from parity.spec.strategies import ordered_dtypes

MAX_IN = {1: 8, 2: 5, 3: 3}


@dataclass(frozen=True)
class TransposeConfig(ConvGeometry):
    """``convention`` "tf": ``padding`` is "same"/"valid" and ``output_padding`` () means None.
    ``convention`` "torch": ``torch_padding`` and ``output_padding`` are torch's."""
    convention: str = "tf"
    padding: str = "same"
    torch_padding: tuple[int, ...] = ()
    output_padding: tuple[int, ...] = ()
    bias: bool = True
    dtype: str = "float32"

    def validate(self) -> None:
        self.require_geometry()
        require(self.convention in ("tf", "torch"), "convention must be tf or torch")
        require(self.padding in ("same", "valid"), "padding must be same or valid")
        for name in ("torch_padding", "output_padding"):
            v = getattr(self, name)
            require(len(v) in (0, self.rank) and all(i >= 0 for i in v),
                    f"{name} needs 0 or {self.rank} values >= 0, got {list(v)}")
        require(self.convention == "tf" or len(self.torch_padding) == self.rank,
                "the torch convention needs torch_padding")

    @property
    def full(self) -> tuple[int, ...]:
        return tuple((n - 1) * s + (k - 1) * d + 1 for n, k, s, d in
                     zip(self.spatial, self.kernel, self.stride, self.dilation))

    @property
    def out_spatial(self) -> tuple[int, ...]:
        if self.convention == "torch":
            op = self.output_padding or (0,) * self.rank
            return tuple(f - 2 * p + o for f, p, o in zip(self.full, self.torch_padding, op))
        return tuple(keras_output_length(n, k, s, d, self.padding,
                                         self.output_padding[i] if self.output_padding else None)
                     for i, (n, k, s, d) in enumerate(zip(self.spatial, self.kernel, self.stride,
                                                          self.dilation)))

    @property
    def start(self) -> tuple[int, ...]:
        if self.convention == "torch":
            return self.torch_padding
        return tuple(tf_window_start(o, k, s, d, self.padding) for o, k, s, d in
                     zip(self.out_spatial, self.kernel, self.stride, self.dilation))


# ---------------------------------------------------------------- strategy
@st.composite
def _configs(draw_, rank: int, dtypes, convention: str):
    kernel = tuple(draw_(st.integers(1, 6)) for _ in range(rank))
    stride = tuple(draw_(st.integers(1, 4)) for _ in range(rank))
    dilation = (1,) * rank if draw_(st.booleans()) else \
        tuple(draw_(st.integers(1, 2)) for _ in range(rank))
    common = dict(rank=rank, batch=draw_(st.integers(1, 3)),
                  in_channels=draw_(st.integers(1, 3)), out_channels=draw_(st.integers(1, 3)),
                  spatial=tuple(draw_(st.integers(1, MAX_IN[rank])) for _ in range(rank)),
                  kernel=kernel, stride=stride, dilation=dilation, bias=draw_(st.booleans()),
                  dtype=draw_(st.sampled_from(ordered_dtypes(dtypes))))
    op = tuple(draw_(st.integers(0, max(s, d) - 1)) for s, d in zip(stride, dilation))
    if convention == "torch":
        pad = tuple(draw_(st.integers(0, (k - 1) * d // 2 + 1)) for k, d in zip(kernel, dilation))
        config = TransposeConfig(convention="torch", torch_padding=pad, output_padding=op, **common)
    else:  # Keras requires output_padding < stride
        op = tuple(draw_(st.integers(0, s - 1)) for s in stride)
        config = TransposeConfig(padding=draw_(st.sampled_from(("same", "valid"))),
                                 output_padding=op if draw_(st.booleans()) else (), **common)
    # an empty output has nothing to compare: such arguments are not drawn (documented)
    assume(all(o >= 1 for o in config.out_spatial))
    return config


def strategy_for(rank: int, convention: str):
    def strategy(dtypes=DTYPES):
        return _configs(rank, tuple(dtypes), convention)
    return strategy


def make_inputs(c: TransposeConfig, seed: int) -> dict:
    rng = case_rng(seed)
    out = {"x": draw(rng, (c.batch, c.in_channels, *c.spatial), c.dtype),
           "w": draw(rng, (c.in_channels, c.out_channels, *c.kernel), c.dtype)}
    if c.bias:
        out["b"] = draw(rng, (c.out_channels,), c.dtype)
    out["dy"] = draw(rng, (c.batch, c.out_channels, *(max(o, 0) for o in c.out_spatial)), c.dtype)
    return out


# ---------------------------------------------------------------- TF sides
def _tf_run(c: TransposeConfig, inp: dict, fn) -> dict:
    """``fn(tf, x, w)`` with x channels last and w ``(*k, out, in)``; bias added here."""
    return tf_conv_run(c.dtype, inp, fn, layout.transpose_kernel_torch_to_tf,
                       layout.transpose_kernel_tf_to_torch)


def tf_nn(c: TransposeConfig, inp: dict) -> dict:
    """tf.nn.conv_transpose(output_shape=Keras's size, padding SAME/VALID), channels last."""
    return _tf_run(c, inp, lambda tf, x, w: tf.nn.conv_transpose(
        x, w, output_shape=[c.batch, *c.out_spatial, c.out_channels], strides=c.stride,
        padding=c.padding.upper(), dilations=c.dilation))


def _build_keras(keras, c: TransposeConfig, dtype: str):
    return getattr(keras.layers, f"Conv{c.rank}DTranspose")(
        filters=c.out_channels, kernel_size=c.kernel, strides=c.stride, padding=c.padding,
        output_padding=c.output_padding or None, dilation_rate=c.dilation, use_bias=c.bias,
        dtype=dtype)


KERAS_LAYER = KerasLayer(
    _build_keras, weights=lambda c, inp: [layout.transpose_kernel_torch_to_tf(inp["w"])]
    + ([inp["b"]] if c.bias else []),
    grads=lambda c: (("w", "kernel", layout.transpose_kernel_tf_to_torch),)
    + ((("b", "bias", lambda a: a),) if c.bias else ()))
"""keras.layers.Conv{r}DTranspose(padding, output_padding, dilation_rate) with the weights."""


def tf_keras(c: TransposeConfig, inp: dict) -> dict:
    """keras.layers.Conv{r}DTranspose(padding, output_padding, dilation_rate) with the weights."""
    return on_tf(KERAS_LAYER, c, inp)


def tf_port_of_torch(c: TransposeConfig, inp: dict) -> dict:
    """parity.ports.tf.conv_transpose_torch: torch's semantics written in TF."""
    from parity.backends import tf as B

    B.tf()
    from parity.ports import tf as P

    return _tf_run(c, inp, lambda tf, x, w: P.conv_transpose_torch(
        x, w, None, c.stride, c.torch_padding, c.output_padding or 0, c.dilation))


# ---------------------------------------------------------------- torch sides
def _torch_run(c: TransposeConfig, inp: dict, fn) -> dict:
    return torch_run(c.dtype, inp, fn)


def port(rank: int):
    """parity.ports.conv_transpose{rank}d_tf with Keras's arguments, imported when it runs."""
    def conv_transpose_tf(x, w, b, stride, padding, output_padding, dilation):
        from parity.ports import transpose as P

        return getattr(P, f"conv_transpose{rank}d_tf")(x, w, b, stride, padding, output_padding,
                                                      dilation)
    return conv_transpose_tf


def torch_native(c: TransposeConfig, inp: dict) -> dict:
    """torch conv_transpose with the textbook mapping of Keras's arguments."""
    from parity.backends import torch as B

    same = c.padding == "same"
    pad = tuple(d * (k - 1) // 2 if same else 0 for k, d in zip(c.kernel, c.dilation))
    op = c.output_padding or tuple(s - 1 if same else 0 for s in c.stride)
    fn = getattr(B.torch().nn.functional, f"conv_transpose{c.rank}d")
    return _torch_run(c, inp, lambda x, w, b: fn(x, w, b, c.stride, pad, op, 1, c.dilation))


def torch_functional(c: TransposeConfig, inp: dict) -> dict:
    """torch.nn.functional.conv_transpose{r}d with torch's own arguments."""
    from parity.backends import torch as B

    fn = getattr(B.torch().nn.functional, f"conv_transpose{c.rank}d")
    return _torch_run(c, inp, lambda x, w, b: fn(x, w, b, c.stride, c.torch_padding,
                                                 c.output_padding or 0, 1, c.dilation))


def candidate_side(fn):
    """``fn(input, weight, bias, stride=, padding="same"|"valid", output_padding=None|tuple,
    dilation=)`` with torch's ``(in, out, *k)`` weight and Keras's meaning of the arguments."""
    def side(c: TransposeConfig, inp: dict) -> dict:
        return _torch_run(c, inp, lambda x, w, b: fn(
            x, w, b, stride=c.stride, padding=c.padding, output_padding=c.output_padding or None,
            dilation=c.dilation))
    return side


# ---------------------------------------------------------------- reference and bound
def reference_and_bounds(c: TransposeConfig, inp: dict) -> tuple[dict, dict]:
    args = (c.start, c.out_spatial, c.stride, c.dilation)
    exact = reference.conv_transpose_all(inp["x"], inp["w"], inp.get("b"), inp["dy"], *args)
    mag = reference.conv_transpose_all(np.abs(inp["x"]), np.abs(inp["w"]),
                                       np.abs(inp["b"]) if c.bias else None, np.abs(inp["dy"]),
                                       *args)
    k = math.prod(c.kernel)
    n = {"y": c.in_channels * k + 1, "dx": c.out_channels * k,
         "dw": c.batch * math.prod(c.spatial), "db": c.batch * math.prod(c.out_spatial)}
    return exact, {name: rounding_bound(mag[name], n[name], c.dtype) for name in exact}


def derived(c: TransposeConfig) -> dict:
    """Geometry for registry predicates: ``out``, ``start``, ``eff`` and, for the textbook
    mapping of Keras's arguments, the window torch then takes (``textbook_start/out``)."""
    eff = tuple((k - 1) * d + 1 for k, d in zip(c.kernel, c.dilation))
    same = c.padding == "same"
    tb_pad = tuple((e - 1) // 2 if same else 0 for e in eff)
    tb_op = c.output_padding or tuple(s - 1 if same else 0 for s in c.stride)
    return {"out": list(c.out_spatial), "start": list(c.start), "eff": list(eff),
            "textbook_start": list(tb_pad),
            "textbook_out": [f - 2 * p + o for f, p, o in zip(c.full, tb_pad, tb_op)],
            "textbook_output_padding": list(tb_op)}


derived.fields = ("out", "start", "eff", "textbook_start", "textbook_out",
                  "textbook_output_padding")


def _check(convention: str):
    def check(c: TransposeConfig) -> None:
        require(c.convention == convention, f"this op takes convention={convention!r} configs")
        require(all(o >= 1 for o in c.out_spatial), f"output size {list(c.out_spatial)} is empty")
    return check


for _rank in (1, 2, 3):
    register(OpPair(
        name=f"conv_transpose{_rank}d", family="transpose",
        description=f"{_rank}-D transposed convolution with Keras/TF arguments "
                    "(padding same/valid, output_padding)",
        config_type=TransposeConfig, strategy=strategy_for(_rank, "tf"), make_inputs=make_inputs,
        realistic=shaped_like("transpose_tf", strategy_for(_rank, "tf")) if _rank == 2 else None,
        reference=reference_and_bounds, tf_sides={"tf.nn": tf_nn, "keras": tf_keras},
        audit_tf="tf.nn",
        torch_sides={"port": candidate_side(port(_rank)), "native": torch_native},
        variants={
            "port": Variant("port", "tf.nn", "port", "tf.nn.conv_transpose vs parity.ports"),
            "keras": Variant("keras", "keras", "port", "Keras Conv*DTranspose vs parity.ports"),
            "native": Variant("native", "tf.nn", "native", "tf.nn.conv_transpose vs torch "
                              "ConvTranspose with padding d(k-1)//2, output_padding s-1"),
        },
        candidate_side=candidate_side,
        candidate_doc="fn(input, weight, bias, stride=, padding='same'|'valid', "
                      "output_padding=None|tuple, dilation=) -> output; NC[D][H]W input, "
                      "(in, out, *k) weight; Keras meaning of padding/output_padding",
        check=_check("tf"), derived=derived, tags=("conv-transpose",),
        tf32_outputs=("y", "dx", "dw")))
    register(OpPair(
        name=f"conv_transpose{_rank}d_torch", family="transpose",
        description=f"{_rank}-D transposed convolution with torch arguments "
                    "(padding, output_padding): TF implementation of torch semantics",
        config_type=TransposeConfig, strategy=strategy_for(_rank, "torch"),
        realistic=shaped_like("transpose_torch", strategy_for(_rank, "torch"))
        if _rank == 2 else None,
        make_inputs=make_inputs, reference=reference_and_bounds,
        tf_sides={"port": tf_port_of_torch},
        audit_tf="port", torch_sides={"torch": torch_functional},
        variants={"port": Variant("port", "port", "torch",
                                  "parity.ports.tf.conv_transpose_torch vs torch")},
        candidate_side=lambda fn: (lambda c, inp: _torch_run(c, inp, lambda x, w, b: fn(
            x, w, b, stride=c.stride, padding=c.torch_padding,
            output_padding=c.output_padding or 0, dilation=c.dilation))),
        candidate_doc="fn(input, weight, bias, stride=, padding=, output_padding=, dilation=) "
                      "like torch.nn.functional.conv_transpose{r}d",
        check=_check("torch"), derived=derived, tf32_outputs=("y", "dx", "dw")))
