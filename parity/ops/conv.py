"""SAME convolution: conv1d_same, conv2d_same, conv3d_same, depthwise_conv2d_same.

Config -> strategy -> TF sides -> torch sides -> float64 reference -> bound.

Bound. Element ``y[i]`` sums ``n = (in/groups) * prod(kernel)`` products plus
the bias; ``dx[i]`` at most ``(out/groups) * prod(kernel)``; ``dw[i]`` and
``db[i]`` ``batch * prod(out_spatial)``. Each output's bound is
``parity.core.tolerance.rounding_bound`` of the float64 magnitudes obtained by running
the same reference arithmetic on absolute values (``|x| conv |w| + |b|``,
``|dy| conv^T |w|``, ``|x| corr |dy|``, ``sum |dy|``), with that ``n``.
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
from parity.core.padding import same_paddings
from parity.ops.keras_layers import KerasLayer, on_tf
from parity.ops.sides import tf_conv_run, torch_run
from parity.spec.realistic import shaped_like
from parity.spec.registry import OpPair, Variant, register
from parity.spec.strategies import ordered_dtypes, strides_and_sizes

MAX_OUT = {1: 12, 2: 6, 3: 3}
"""Largest output size per spatial dimension the strategy draws, by rank (speed)."""
REALISTIC = {1: "conv1d", 2: "conv2d"}
"""The ``parity.spec.realistic`` layers each rank draws in the realistic profile (3-D: none)."""


@dataclass(frozen=True)
class ConvConfig(ConvGeometry):
    groups: int = 1
    bias: bool = True
    dtype: str = "float32"

    def validate(self) -> None:
        self.require_geometry("groups")
        require(self.in_channels % self.groups == 0 and self.out_channels % self.groups == 0,
                f"groups={self.groups} must divide in_channels={self.in_channels} and "
                f"out_channels={self.out_channels}")

    @property
    def pads(self) -> list[tuple[int, int]]:
        """TF SAME (before, after) per spatial dimension."""
        return [(p.before, p.after) for p in
                same_paddings(self.spatial, self.kernel, self.stride, self.dilation)]

    @property
    def out_spatial(self) -> tuple[int, ...]:
        return tuple(-(-n // s) for n, s in zip(self.spatial, self.stride))


# ---------------------------------------------------------------- strategy
@st.composite
def _conv_configs(draw_, rank: int, dtypes, depthwise: bool):
    kernel = tuple(draw_(st.integers(1, 7)) for _ in range(rank))
    # TF on CPU refuses dilated gradients (conv1d/2d) and any dilated or grouped Conv3D
    # (registry): draw those often enough to keep measuring the refusal, not so often that
    # they crowd out compared cases.
    plain = draw_(st.sampled_from(_PLAIN_ODDS[rank]))
    dilation = (1,) * rank if plain else tuple(draw_(st.integers(1, 3)) for _ in range(rank))
    # equal strides half the time (TF depthwise needs them); sizes drawn output first
    stride, spatial = strides_and_sizes(draw_, rank, MAX_OUT[rank])
    if depthwise:
        groups = cin = draw_(st.integers(1, 4))
        cout = cin * draw_(st.integers(1, 3))
    else:
        groups = draw_(st.sampled_from(_GROUPS[rank]))
        cin, cout = groups * draw_(st.integers(1, 3)), groups * draw_(st.integers(1, 3))
    return ConvConfig(rank=rank, batch=draw_(st.integers(1, 4)), in_channels=cin,
                      out_channels=cout, spatial=spatial, kernel=kernel, stride=stride,
                      dilation=dilation, groups=groups, bias=draw_(st.booleans()),
                      dtype=draw_(st.sampled_from(ordered_dtypes(dtypes))))


_PLAIN_ODDS = {1: (True, False), 2: (True, False), 3: (True, True, True, False)}
_GROUPS = {1: (1, 1, 2, 3), 2: (1, 1, 2, 3), 3: (1, 1, 1, 1, 1, 2)}



def strategy_for(rank: int, depthwise: bool = False):
    def strategy(dtypes=DTYPES):
        return _conv_configs(rank, tuple(dtypes), depthwise)
    return strategy


def coverage(configs) -> dict[str, int]:
    """How many configs show each feature a SAME-conv sweep must exercise.

    >>> c = ConvConfig(rank=1, batch=1, in_channels=1, out_channels=1, spatial=(2,), kernel=(4,),
    ...                stride=(1,), dilation=(1,))
    >>> sorted(k for k, v in coverage([c]).items() if v)
    ['even kernel', 'float32', 'kernel larger than input', 'odd total padding']
    """
    features = {
        "stride > 1": lambda c: max(c.stride) > 1,
        "stride > kernel": lambda c: any(s > k for s, k in zip(c.stride, c.kernel)),
        "dilation > 1": lambda c: max(c.dilation) > 1,
        "even kernel": lambda c: any(k % 2 == 0 for k in c.kernel),
        "odd kernel > 1": lambda c: any(k % 2 == 1 and k > 1 for k in c.kernel),
        "odd total padding": lambda c: any(a != b for a, b in c.pads),
        "kernel larger than input": lambda c: any((k - 1) * d + 1 > n for k, d, n in
                                                  zip(c.kernel, c.dilation, c.spatial)),
        "input not a multiple of stride": lambda c: any(n % s for n, s in zip(c.spatial, c.stride)),
        "non-square input": lambda c: len(set(c.spatial)) > 1,
        "unequal strides": lambda c: len(set(c.stride)) > 1,
        "batch > 1": lambda c: c.batch > 1,
        "groups > 1": lambda c: c.groups > 1,
        "no bias": lambda c: not c.bias,
        **{d: (lambda c, d=d: c.dtype == d) for d in DTYPES},
    }
    return {name: sum(bool(f(c)) for c in configs) for name, f in features.items()}


# ---------------------------------------------------------------- inputs
def make_inputs(c: ConvConfig, seed: int) -> dict:
    """x, w, b (if any) uniform in [-1, 1); upstream gradient dy likewise."""
    rng = case_rng(seed)
    out = {"x": draw(rng, (c.batch, c.in_channels, *c.spatial), c.dtype),
           "w": draw(rng, (c.out_channels, c.in_channels // c.groups, *c.kernel), c.dtype)}
    if c.bias:
        out["b"] = draw(rng, (c.out_channels,), c.dtype)
    out["dy"] = draw(rng, (c.batch, c.out_channels, *c.out_spatial), c.dtype)
    return out


# ---------------------------------------------------------------- TF sides
def _kernel_to_tf(c: ConvConfig, w, depthwise: bool):
    return layout.depthwise_torch_to_tf(w, c.in_channels) if depthwise \
        else layout.kernel_torch_to_tf(w)


def _tf_run(c: ConvConfig, inp: dict, depthwise: bool, conv) -> dict:
    return tf_conv_run(c.dtype, inp, conv, lambda w: _kernel_to_tf(c, w, depthwise),
                       layout.depthwise_tf_to_torch if depthwise else layout.kernel_tf_to_torch)


def tf_nn(c: ConvConfig, inp: dict) -> dict:
    """tf.nn.conv1d / conv2d / conv3d(padding="SAME"), NWC/NHWC/NDHWC."""
    def conv(tf, x, w):
        if c.rank == 1:
            return tf.nn.conv1d(x, w, stride=c.stride[0], padding="SAME", dilations=c.dilation[0])
        if c.rank == 2:
            return tf.nn.conv2d(x, w, strides=c.stride, padding="SAME", dilations=c.dilation)
        return tf.nn.conv3d(x, w, strides=(1, *c.stride, 1), padding="SAME",
                            dilations=(1, *c.dilation, 1))
    return _tf_run(c, inp, False, conv)


def tf_nn_depthwise(c: ConvConfig, inp: dict) -> dict:
    """tf.nn.depthwise_conv2d(padding="SAME"), NHWC, filter (kh, kw, C, M)."""
    return _tf_run(c, inp, True, lambda tf, x, w: tf.nn.depthwise_conv2d(
        x, w, strides=(1, *c.stride, 1), padding="SAME", dilations=c.dilation))


def keras_layer(depthwise: bool = False, padding: str = "same") -> KerasLayer:
    """keras.layers.Conv{1,2,3}D / DepthwiseConv2D(padding) with the case's weights
    (``padding="causal"``: conv1d_causal)."""
    def build(keras, c: ConvConfig, dtype: str):
        common = dict(kernel_size=c.kernel, strides=c.stride, padding=padding,
                      dilation_rate=c.dilation, use_bias=c.bias, dtype=dtype)
        if depthwise:
            return keras.layers.DepthwiseConv2D(depth_multiplier=c.out_channels // c.in_channels,
                                                **common)
        return getattr(keras.layers, f"Conv{c.rank}D")(filters=c.out_channels, groups=c.groups,
                                                      **common)

    to_torch = layout.depthwise_tf_to_torch if depthwise else layout.kernel_tf_to_torch
    return KerasLayer(
        build, weights=lambda c, inp: [_kernel_to_tf(c, inp["w"], depthwise)]
        + ([inp["b"]] if c.bias else []),
        grads=lambda c: (("w", "kernel", to_torch),) + ((("b", "bias", _same),) if c.bias else ()))


def _same(a):
    return a


def tf_keras(c: ConvConfig, inp: dict, depthwise: bool = False, padding: str = "same",
             layer_dtype: str | None = None, x_dtype: str | None = None) -> dict:
    """keras.layers.Conv{1,2,3}D / DepthwiseConv2D(padding="same") with the case's weights.

    ``padding``: another Keras padding of the same layer (``"causal"``: conv1d_causal).
    ``layer_dtype`` and ``x_dtype`` (default the config's dtype): a mixed policy's layer, fed
    float32 (conv2d_mixed); ``dy`` is always of the config's dtype."""
    return on_tf(keras_layer(depthwise, padding), c, inp, layer_dtype, x_dtype)


# ---------------------------------------------------------------- torch sides
def _torch_run(c: ConvConfig, inp: dict, fn) -> dict:
    """Run ``fn(x, w, b)`` under autograd (b None without bias)."""
    return torch_run(c.dtype, inp, fn)


def torch_port(c: ConvConfig, inp: dict) -> dict:
    """parity.ports.conv{r}d_same: TF SAME for every stride and dilation."""
    from parity.ports import conv as P

    return candidate_side(getattr(P, f"conv{c.rank}d_same"))(c, inp)


def torch_native(c: ConvConfig, inp: dict) -> dict:
    """torch.nn.functional.conv{r}d(padding="same"): refuses stride > 1."""
    from parity.backends import torch as B

    fn = getattr(B.torch().nn.functional, f"conv{c.rank}d")
    return _torch_run(c, inp, lambda x, w, b: fn(x, w, b, c.stride, "same", c.dilation, c.groups))


def torch_symmetric(c: ConvConfig, inp: dict) -> dict:
    """torch.nn.functional.conv{r}d(padding=d*(k-1)//2 on both sides): the usual hand port of
    "same" (``nn.Conv2d(..., padding=k//2)``)."""
    from parity.backends import torch as B

    fn = getattr(B.torch().nn.functional, f"conv{c.rank}d")
    pad = tuple(d * (k - 1) // 2 for k, d in zip(c.kernel, c.dilation))
    return _torch_run(c, inp, lambda x, w, b: fn(x, w, b, c.stride, pad, c.dilation, c.groups))


def torch_seed_recipe(c: ConvConfig, inp: dict) -> dict:
    """The blog recipe of seeds/000 (``parity.spec.recipes.seed_conv2d_same_padding``)."""
    from parity.spec.recipes import seed_conv2d_same_padding

    return _torch_run(c, inp, lambda x, w, b: seed_conv2d_same_padding(
        x, w, b, stride=c.stride, dilation=c.dilation, groups=c.groups))


def candidate_side(fn):
    """A user's callable as a torch side: ``fn(x, w, b, stride=..., dilation=..., groups=...)``."""
    def side(c: ConvConfig, inp: dict) -> dict:
        return _torch_run(c, inp, lambda x, w, b: fn(x, w, b, stride=c.stride,
                                                     dilation=c.dilation, groups=c.groups))
    return side


# ---------------------------------------------------------------- reference and bound
def reference_and_bounds(c: ConvConfig, inp: dict) -> tuple[dict, dict]:
    """Exact float64 y, dx, dw, db (TF SAME padding) and their per-element bounds.

    One pass computes both: ``[x, |x|]`` stacked as ``2 * groups`` groups against
    ``[w, |w|]`` (and ``[dy, |dy|]``) yields the exact values in the first half of
    the channels and the magnitudes ``|x| conv |w|`` etc. in the second.
    """
    def both(a, axis):
        return np.concatenate([a, np.abs(a)], axis=axis)

    b = both(inp["b"], 0) if c.bias else None
    out = reference.conv_all(both(inp["x"], 1), both(inp["w"], 0), b, both(inp["dy"], 1),
                             c.pads, c.stride, c.dilation, 2 * c.groups)
    half = {"y": 1, "dx": 1, "dw": 0, "db": 0}
    exact = {k: np.split(v, 2, axis=half[k])[0] for k, v in out.items()}
    magnitude = {k: np.split(v, 2, axis=half[k])[1] for k, v in out.items()}
    k = math.prod(c.kernel)
    n_out = c.batch * math.prod(c.out_spatial)
    n = {"y": (c.in_channels // c.groups) * k + 1, "dx": (c.out_channels // c.groups) * k,
         "dw": n_out, "db": n_out}
    return exact, {name: rounding_bound(m, n[name], c.dtype) for name, m in magnitude.items()}


# ---------------------------------------------------------------- registration
CANDIDATE_DOC = ("fn(input, weight, bias, stride=(s0, ...), dilation=(d0, ...), groups=g) -> "
                 "output, one stride and dilation value per spatial dimension; NC[D][H]W input, "
                 "(out, in/groups, *kernel) weight, bias or None, like "
                 "torch.nn.functional.conv{r}d without padding; or a module class "
                 "M(in_channels, out_channels, kernel_size, stride=, dilation=, groups=, bias=)")
_VARIANTS = {
    "port": Variant("port", "tf.nn", "port", "tf.nn SAME conv vs parity.ports"),
    "native": Variant("native", "tf.nn", "native", 'tf.nn SAME conv vs torch padding="same"'),
    "keras": Variant("keras", "keras", "port", 'keras.layers padding="same" vs parity.ports'),
    "symmetric": Variant("symmetric", "tf.nn", "symmetric",
                         "tf.nn SAME conv vs torch padding=d*(k-1)//2 on both sides"),
}
_SEED = Variant("seed", "tf.nn", "seed", "tf.nn SAME conv vs the seeds/000 blog recipe")


def _register(name: str, rank: int, description: str, depthwise: bool = False) -> OpPair:
    variants = dict(_VARIANTS)
    if rank == 2 and not depthwise:
        variants["seed"] = _SEED
    keras_side = (lambda c, inp: tf_keras(c, inp, depthwise=True)) if depthwise else tf_keras
    return register(OpPair(
        name=name, family="conv", description=description, config_type=ConvConfig,
        strategy=strategy_for(rank, depthwise), make_inputs=make_inputs,
        reference=reference_and_bounds,
        tf_sides={"tf.nn": tf_nn_depthwise if depthwise else tf_nn, "keras": keras_side},
        audit_tf="tf.nn",
        torch_sides={"port": torch_port, "native": torch_native, "seed": torch_seed_recipe,
                     "symmetric": torch_symmetric},
        variants=variants, candidate_side=candidate_side,
        candidate_doc=CANDIDATE_DOC.replace("{r}", "2" if depthwise else str(rank))
        + ("; groups = in_channels, weight (C*M, 1, kh, kw)" if depthwise else ""),
        check=_check_depthwise if depthwise else None, tags=("same-conv",),
        tf32_outputs=("y", "dx", "dw"),
        realistic=_realistic(rank, depthwise)))


def _realistic(rank: int, depthwise: bool):
    kind = "depthwise" if depthwise else REALISTIC.get(rank)
    return shaped_like(kind, strategy_for(rank, depthwise)) if kind else None


def _check_depthwise(c: ConvConfig) -> None:
    require(c.rank == 2 and c.groups == c.in_channels and c.out_channels % c.in_channels == 0,
            "depthwise_conv2d_same needs rank 2, groups == in_channels and out_channels a "
            f"multiple of in_channels; got rank={c.rank} groups={c.groups} "
            f"in_channels={c.in_channels} out_channels={c.out_channels}")


_register("conv1d_same", 1, "SAME 1-D convolution (NWC vs NCW), groups, stride, dilation")
_register("conv2d_same", 2, "SAME 2-D convolution (NHWC vs NCHW), grouped included")
_register("conv3d_same", 3, "SAME 3-D convolution (NDHWC vs NCDHW)")
_register("depthwise_conv2d_same", 2, "SAME depthwise 2-D convolution, channel multiplier",
          depthwise=True)
