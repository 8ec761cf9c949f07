"""group_norm and layer_norm: Keras GroupNormalization / LayerNormalization vs torch.

``group_norm``: Keras ``GroupNormalization(groups, epsilon)`` (channels last, channels split into
contiguous groups) vs ``parity.ports``' use of ``F.group_norm`` with Keras's epsilon (``port``)
and ``nn.GroupNorm(groups, C, eps=epsilon)`` (``native``, numbers copied).
``layer_norm``: Keras ``LayerNormalization(epsilon)`` normalizes the channel axis of a
channels-last tensor; ``port`` = ``parity.ports.layer_norm_channels``; ``native`` =
``nn.LayerNorm(C, eps)`` applied to the NC... tensor as is (it normalizes the last axis).

Reference: normalize over the group's (or the channel) axes with the biased variance, per-channel
affine, in float64; gradients by the usual formula. Bound: ``n`` = elements per statistic,
magnitudes as for batch_norm.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from hypothesis import strategies as st

from parity.core.tolerance import rounding_bound
from parity.core.config import ChannelsInput, require, require_geometry
from parity.core.numerics import DTYPES, case_rng, draw, round_to
from parity.ops.keras_layers import KerasLayer, tf_side
from parity.ops.sides import torch_run
from parity.spec.realistic import shaped_like
from parity.spec.registry import OpPair, Variant, register
from parity.spec.strategies import ordered_dtypes


@dataclass(frozen=True)
class GNConfig(ChannelsInput):
    groups: int = 1
    epsilon: float = 1e-3
    offset: float = 0.0
    dtype: str = "float32"

    def validate(self) -> None:
        require_geometry(self, ("spatial",), ("batch", "channels", "groups"))
        require(self.channels % self.groups == 0, "groups must divide channels")
        require(self.epsilon > 0, "epsilon must be > 0")


@st.composite
def _configs(draw_, dtypes, grouped: bool):
    rank = draw_(st.integers(1, 3))
    groups = draw_(st.integers(1, 3)) if grouped else 1
    return GNConfig(rank=rank, batch=draw_(st.integers(1, 3)),
                    channels=groups * draw_(st.integers(1, 3)),
                    spatial=tuple(draw_(st.integers(1, 4)) for _ in range(rank)), groups=groups,
                    epsilon=draw_(st.sampled_from((1e-3, 1e-5))),
                    offset=draw_(st.sampled_from((0.0, 0.0, 100.0))),
                    dtype=draw_(st.sampled_from(ordered_dtypes(dtypes))))


def make_inputs(c: GNConfig, seed: int) -> dict:
    rng = case_rng(seed)
    shape = (c.batch, c.channels, *c.spatial)
    return {"x": round_to(c.offset + rng.uniform(-1, 1, shape), c.dtype),
            "w": draw(rng, (c.channels,), c.dtype, 0.5, 1.5), "b": draw(rng, (c.channels,), c.dtype),
            "dy": draw(rng, shape, c.dtype)}


# ---------------------------------------------------------------- TF side
def keras_layer(kind: str) -> KerasLayer:
    """keras.layers.GroupNormalization(groups) / LayerNormalization(), channels last."""
    def build(keras, c: GNConfig, dtype: str):
        if kind == "group":
            return keras.layers.GroupNormalization(groups=c.groups, epsilon=c.epsilon, dtype=dtype)
        return keras.layers.LayerNormalization(epsilon=c.epsilon, dtype=dtype)
    return KerasLayer(build, weights=lambda c, inp: [inp["w"], inp["b"]],
                      grads=lambda c: (("w", "gamma", _same), ("b", "beta", _same)))


def _same(a):
    return a


# ---------------------------------------------------------------- torch sides
def group_norm_port(x, groups, w, b, eps):
    """parity.ports.group_norm."""
    from parity.ports.norm import group_norm

    return group_norm(x, groups, w, b, eps)


def layer_norm_port(x, w, b, eps):
    """parity.ports.layer_norm_channels."""
    from parity.ports.norm import layer_norm_channels

    return layer_norm_channels(x, w, b, eps)


def group_norm_native(x, groups, w, b, eps):
    """torch.nn.functional.group_norm with Keras's numbers copied."""
    from parity.backends import torch as B

    return B.torch().nn.functional.group_norm(x, groups, w, b, eps)


def layer_norm_native(x, w, b, eps):
    """torch.nn.functional.layer_norm(x, (C,), ...) with Keras's numbers copied: on NC... it
    normalizes the last axis, not the channels."""
    from parity.backends import torch as B

    return B.torch().nn.functional.layer_norm(x, (x.shape[1],), w, b, eps)


# ---------------------------------------------------------------- reference and bound
def reference(kind: str):
    def ref(c: GNConfig, inp: dict) -> tuple[dict, dict]:
        x, w, b, dy = inp["x"], inp["w"], inp["b"], inp["dy"]
        n_sp = len(c.spatial)
        view = (1, -1) + (1,) * n_sp
        if kind == "group":  # (N, G, C/G, *sp), statistics over the group's channels and space
            shape = (c.batch, c.groups, c.channels // c.groups, *c.spatial)
            axes = tuple(range(2, 3 + n_sp))
        else:  # statistics over the channels at each position
            shape, axes = x.shape, (1,)
        xg, dyw = x.reshape(shape), (dy * w.reshape(view)).reshape(shape)
        mean = xg.mean(axis=axes, keepdims=True)
        var = ((xg - mean) ** 2).mean(axis=axes, keepdims=True)
        inv = 1 / np.sqrt(var + c.epsilon)
        xhat = (xg - mean) * inv
        dx = inv * (dyw - dyw.mean(axis=axes, keepdims=True)
                    - xhat * (dyw * xhat).mean(axis=axes, keepdims=True))
        sum_axes = (0,) + tuple(range(2, 2 + n_sp))
        xhat_full = xhat.reshape(x.shape)
        exact = {"y": xhat_full * w.reshape(view) + b.reshape(view), "dx": dx.reshape(x.shape),
                 "dw": (dy * xhat_full).sum(axis=sum_axes), "db": dy.sum(axis=sum_axes)}
        scaled = ((np.abs(xg) + np.abs(mean)) * inv).reshape(x.shape)
        mag_dx = (inv * (2 * np.abs(dyw) + ((np.abs(xg) + np.abs(mean)) * inv)
                         * (np.abs(dyw) * (np.abs(xg) + np.abs(mean)) * inv).mean(
                             axis=axes, keepdims=True))).reshape(x.shape)
        mag = {"y": scaled * np.abs(w).reshape(view) + np.abs(b).reshape(view), "dx": mag_dx,
               "dw": (np.abs(dy) * scaled).sum(axis=sum_axes), "db": np.abs(dy).sum(axis=sum_axes)}
        n = math.prod(shape[a] for a in axes) + c.batch * math.prod(c.spatial)
        return exact, {k: rounding_bound(v, n + 4, c.dtype) for k, v in mag.items()}
    return ref


def _candidate(kind: str):
    """Candidates are called like the ports: ``group_norm(x, groups, w, b, eps)``,
    ``layer_norm_channels(x, w, b, eps)``."""
    def make(fn):
        def side(c: GNConfig, inp: dict) -> dict:
            groups = (c.groups,) if kind == "group" else ()
            return torch_run(c.dtype, inp, lambda x, w, b: fn(x, *groups, w, b, c.epsilon))
        return side
    return make


_SIDES = {"group": (group_norm_port, group_norm_native),
          "layer": (layer_norm_port, layer_norm_native)}


for _kind in ("group", "layer"):
    register(OpPair(
        name=f"{_kind}_norm", family="norm",
        description=f"Keras {'GroupNormalization' if _kind == 'group' else 'LayerNormalization'}"
                    " vs torch, channels last vs NC...",
        config_type=GNConfig,
        strategy=(lambda kind: lambda dtypes=DTYPES: _configs(tuple(dtypes), kind == "group"))(_kind),
        realistic=shaped_like("group_norm", lambda dtypes=DTYPES: _configs(tuple(dtypes), True))
        if _kind == "group" else None,
        make_inputs=make_inputs, reference=reference(_kind), tf_sides={"keras": tf_side(keras_layer(_kind))},
        audit_tf="keras",
        torch_sides={"port": _candidate(_kind)(_SIDES[_kind][0]),
                     "native": _candidate(_kind)(_SIDES[_kind][1])},
        variants={"port": Variant("port", "keras", "port", "Keras layer vs parity.ports"),
                  "native": Variant("native", "keras", "native",
                                    "Keras layer vs torch with its numbers copied "
                                    "(GroupNorm(groups, C, eps) / LayerNorm(C, eps) on NC...)")},
        candidate_side=_candidate(_kind),
        candidate_doc="fn(input, groups, weight, bias, eps) like F.group_norm, Keras semantics"
                      if _kind == "group" else
                      "fn(input, weight, bias, eps) -> output normalized over dim 1 (channels)"))
