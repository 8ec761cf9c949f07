"""Mixed precision: Keras ``mixed_float16``/``mixed_bfloat16`` layers vs torch ``autocast``.

Float32 variables, half compute, in both frameworks (measured, ``tests/test_mixed.py``):

============  ==========  ==================  ===================================
layer         y           dx                  dw, db / dgamma, dbeta, moving stats
============  ==========  ==================  ===================================
conv2d        half        float32 (x float32) float32
batch norm    half        half (x half)       float32
============  ==========  ==================  ===================================

``conv2d_mixed``: ``keras.layers.Conv2D(padding="same", dtype=policy)`` against
``parity.ports.conv2d_same`` under ``torch.autocast(dtype=half)``, and against the same port
without autocast (float32: the policy not carried over). ``batch_norm_mixed``:
``keras.layers.BatchNormalization(dtype=policy)`` on a half input (what the layer before it
gives) against ``parity.ports.KerasBatchNorm`` (float32 parameters) under autocast. The upstream
gradient ``dy`` is half, as the next layer sends it.

Reference: the float64 arithmetic of the half-rounded operands (what both frameworks feed
their kernels); the bound of every output rounded to half uses half's unit roundoff, the
float32 ones (parameter gradients, moving statistics) float32's.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from hypothesis import strategies as st

from parity.core.config import require
from parity.core.numerics import round_to
from parity.ops import batchnorm, conv
from parity.ops.sides import torch_run
from parity.spec.registry import OpPair, Variant, register

HALVES = ("float16", "bfloat16")


def _autocast(policy: str):
    """``torch.autocast`` on the device in use with the policy's half dtype."""
    from parity.backends import torch as B

    torch = B.torch()
    return torch.autocast(device_type=B.device().split(":")[0],
                          dtype=getattr(torch, policy.removeprefix("mixed_")))


# ---------------------------------------------------------------- conv2d_mixed
class _Mixed:
    """``dtype`` is the policy's compute dtype (float16 or bfloat16); variables are float32."""

    def _require_half(self) -> None:
        require(self.dtype in HALVES, f"{self.op} computes in half: dtype (the policy's compute "
                f"dtype) must be float16 or bfloat16, got {self.dtype}")

    @property
    def policy(self) -> str:
        return f"mixed_{self.dtype}"

    @property
    def compute(self) -> str:
        return self.dtype


def _halves(dtypes) -> tuple[str, ...]:
    """The half dtypes asked for (both when none is: a mixed op always computes in half)."""
    return tuple(d for d in HALVES if d in dtypes) or HALVES


@dataclass(frozen=True)
class MixedConvConfig(_Mixed, conv.ConvConfig):
    op = "conv2d_mixed"

    def validate(self) -> None:
        super().validate()
        require(self.rank == 2, f"conv2d_mixed is 2-D: rank must be 2, got {self.rank}")
        self._require_half()

    def float32(self) -> conv.ConvConfig:
        """The same convolution with float32 tensors: the variables and the input."""
        return conv.ConvConfig(**dict(_fields(self, conv.ConvConfig), dtype="float32"))


def _fields(config, cls) -> dict:
    return {f.name: getattr(config, f.name) for f in dataclasses.fields(cls)}


def _conv_strategy(dtypes=HALVES):
    # the TF side is always Keras: no groups (no CPU gradient) and no stride > 1 with dilation
    # > 1 (refused), which conv2d_same keeps measuring (registry)
    def mixed(t):
        c, dtype = t
        dilation = c.dilation if max(c.stride) == 1 else (1, 1)
        return MixedConvConfig(**dict(dataclasses.asdict(c), groups=1, dilation=dilation,
                                      dtype=dtype))
    return st.tuples(conv.strategy_for(2)(("float32",)), st.sampled_from(_halves(dtypes))).map(
        mixed)


def conv_inputs(c: MixedConvConfig, seed: int) -> dict:
    """conv2d_same's float32 inputs (x, w, b); ``dy`` rounded to the compute dtype."""
    inp = conv.make_inputs(c.float32(), seed)
    inp["dy"] = round_to(inp["dy"], c.compute)
    return inp


def conv_keras(c: MixedConvConfig, inp: dict) -> dict:
    """keras.layers.Conv2D(padding="same", dtype=policy): float32 kernel and bias, x float32 cast
    to half by the layer, y half."""
    return conv.tf_keras(c, inp, layer_dtype=c.policy, x_dtype="float32")


def _conv_port(c: MixedConvConfig, inp: dict, autocast: bool) -> dict:
    from parity.ports import conv2d_same

    def fn(x, w, b):
        if not autocast:
            return conv2d_same(x, w, b, stride=c.stride, dilation=c.dilation)
        with _autocast(c.policy):
            return conv2d_same(x, w, b, stride=c.stride, dilation=c.dilation)
    return torch_run("float32", inp, fn, y_dtype=c.compute)


def conv_autocast(c: MixedConvConfig, inp: dict) -> dict:
    """parity.ports.conv2d_same under torch.autocast(dtype=half): y half, gradients float32."""
    return _conv_port(c, inp, True)


def conv_float32(c: MixedConvConfig, inp: dict) -> dict:
    """parity.ports.conv2d_same in float32, no autocast: the policy not carried over."""
    return _conv_port(c, inp, False)


def conv_reference(c: MixedConvConfig, inp: dict) -> tuple[dict, dict]:
    """conv2d_same's reference of the half-rounded x, w, b, with half's bounds (every output
    is computed by half kernels, then dx, dw, db cast to float32)."""
    half = {k: round_to(v, c.compute) for k, v in inp.items()}
    return conv.reference_and_bounds(conv.ConvConfig(**_fields(c, conv.ConvConfig)), half)


register(OpPair(
    name="conv2d_mixed", family="mixed",
    description="Keras Conv2D under a mixed_float16/mixed_bfloat16 policy vs torch autocast: "
                "float32 variables, half compute",
    config_type=MixedConvConfig, strategy=_conv_strategy, make_inputs=conv_inputs,
    reference=conv_reference, tf_sides={"keras": conv_keras}, audit_tf="keras",
    torch_sides={"autocast": conv_autocast, "float32": conv_float32},
    variants={"port": Variant("port", "keras", "autocast",
                              "Keras Conv2D(dtype=policy) vs parity.ports.conv2d_same under "
                              "torch.autocast"),
              "float32": Variant("float32", "keras", "float32",
                                 "Keras Conv2D(dtype=policy) vs parity.ports.conv2d_same in "
                                 "float32 (no autocast)")},
    candidate_side=lambda fn: (lambda c, inp: torch_run("float32", inp, lambda x, w, b: fn(
        x, w, b, stride=c.stride, dilation=c.dilation, groups=1), y_dtype=c.compute)),
    candidate_doc=conv.CANDIDATE_DOC.replace("{r}", "2") + "; called with float32 tensors, "
    "returns the policy's half dtype",
    tags=("mixed",), tf32_outputs=()))


# ---------------------------------------------------------------- batch_norm_mixed
@dataclass(frozen=True)
class MixedBNConfig(_Mixed, batchnorm.BNConfig):
    op = "batch_norm_mixed"

    def validate(self) -> None:
        super().validate()
        require(self.rank == 2 and self.keras_axis == -1,
                "batch_norm_mixed normalizes the channels of a 2-D input: rank 2, keras_axis -1")
        self._require_half()

    def as_dtype(self, dtype: str) -> batchnorm.BNConfig:
        return batchnorm.BNConfig(**dict(_fields(self, batchnorm.BNConfig), dtype=dtype))


def _bn_strategy(dtypes=HALVES):
    return st.tuples(batchnorm.strategy(("float32",)), st.sampled_from(_halves(dtypes)),
                     st.tuples(st.integers(1, 4), st.integers(1, 4))).map(
        lambda t: MixedBNConfig(**dict(dataclasses.asdict(t[0]), rank=2, keras_axis=-1,
                                       spatial=t[2], dtype=t[1])))


def bn_inputs(c: MixedBNConfig, seed: int) -> dict:
    """batch_norm's inputs: float32 parameters, x and dy of every step in the compute dtype."""
    inp = batchnorm.make_inputs(c.as_dtype("float32"), seed)
    for k in [k for k in inp if k.startswith(("x", "dy"))]:
        inp[k] = round_to(inp[k], c.compute)
    return inp


def bn_keras(c: MixedBNConfig, inp: dict) -> dict:
    """keras.layers.BatchNormalization(dtype=policy) on a half input."""
    return batchnorm.keras_steps(c, inp, layer_dtype=c.policy, io_dtype=c.compute)


def _bn_side(fn):
    """``fn(size, dim, momentum, epsilon)`` -> a module with gamma, beta, moving_mean,
    moving_variance, loaded in float32 and stepped on the half input under torch.autocast."""
    def side(c: MixedBNConfig, inp: dict) -> dict:
        with _autocast(c.policy):
            return batchnorm.keras_like_steps(c, inp, fn(c.size, c.dim, c.momentum, c.epsilon),
                                              param_dtype="float32", io_dtype=c.compute)
    return side


bn_autocast = _bn_side(batchnorm.keras_batch_norm)


def bn_reference(c: MixedBNConfig, inp: dict) -> tuple[dict, dict]:
    """batch_norm's float64 arithmetic of the half inputs; y and dx, rounded to half, get
    half's bounds, the float32 outputs float32's."""
    exact, bounds32 = batchnorm.reference_and_bounds(c.as_dtype("float32"), inp)
    _, bounds_half = batchnorm.reference_and_bounds(c.as_dtype(c.compute), inp)
    return exact, {k: bounds_half[k] if k.startswith(("y", "dx")) else b
                   for k, b in bounds32.items()}


register(OpPair(
    name="batch_norm_mixed", family="mixed",
    description="Keras BatchNormalization under a mixed_float16/mixed_bfloat16 policy vs "
                "parity.ports.KerasBatchNorm under torch autocast, on a half input",
    config_type=MixedBNConfig, strategy=_bn_strategy, make_inputs=bn_inputs,
    reference=bn_reference, tf_sides={"keras": bn_keras}, audit_tf="keras",
    torch_sides={"autocast": bn_autocast},
    variants={"port": Variant("port", "keras", "autocast",
                              "Keras BatchNormalization(dtype=policy) vs "
                              "parity.ports.KerasBatchNorm under torch.autocast")},
    candidate_side=_bn_side,
    candidate_doc="fn(size, dim, momentum, epsilon) -> module with float32 gamma, beta, "
                  "moving_mean, moving_variance, called on a half input",
    outputs=batchnorm.OUTPUTS, tags=("mixed",)))
