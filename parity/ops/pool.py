"""SAME pooling: max_pool{1,2,3}d_same, avg_pool{1,2,3}d_same.

Config -> strategy -> TF sides -> torch sides -> float64 reference -> bound.

Outputs: ``y`` and ``dx`` for a seeded upstream gradient. When a max-pool window
attains its maximum twice (ties) or holds a NaN, which cell gets the gradient is
implementation-defined, so ``dx`` is not compared; ``dx_sum`` (per batch and
channel, the total gradient, which every implementation must conserve) is.

Bound. Max pool selects, so ``y`` must agree exactly (bound ``tiny``). ``dx`` of the
max sums the ``dy`` of every window that picked a cell: at most
``prod(ceil(window/stride))`` terms. The mean's ``y`` is a sum of at most
``prod(window)`` terms and a division; its ``dx`` adds up ``dy/count`` over the
windows covering a cell. Each uses ``parity.core.tolerance.rounding_bound`` of the float64
magnitudes (``mean |x|``, ``sum |dy|/count``) with those ``n``.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from hypothesis import strategies as st

from parity.core import layout

from parity.spec import reference_pool
from parity.core.tolerance import rounding_bound
from parity.core.config import ChannelsInput, require, require_geometry
from parity.core.numerics import DTYPES, case_rng, draw, round_to
from parity.core.padding import same_paddings
from parity.ops.keras_layers import KerasLayer, tf_side
from parity.ops.sides import tf_outputs, torch_run
from parity.spec.realistic import shaped_like
from parity.spec.registry import OpPair, Variant, register
from parity.spec.strategies import ordered_dtypes, strides_and_sizes

MAX_OUT = {1: 10, 2: 5, 3: 3}
FILLS = ("uniform", "ties", "specials")


@dataclass(frozen=True)
class PoolConfig(ChannelsInput):
    window: tuple[int, ...]
    stride: tuple[int, ...]
    fill: str = "uniform"
    dtype: str = "float32"

    def validate(self) -> None:
        require_geometry(self, ("spatial", "window", "stride"), ("batch", "channels"))
        require(self.fill in FILLS, f"fill must be one of {', '.join(FILLS)}, got {self.fill!r}")

    @property
    def pads(self) -> list[tuple[int, int]]:
        return [(p.before, p.after) for p in
                same_paddings(self.spatial, self.window, self.stride, (1,) * self.rank)]

    @property
    def out_spatial(self) -> tuple[int, ...]:
        return tuple(-(-n // s) for n, s in zip(self.spatial, self.stride))


# ---------------------------------------------------------------- strategy
@st.composite
def _pool_configs(draw_, rank: int, dtypes):
    window = tuple(draw_(st.integers(1, 5)) for _ in range(rank))
    stride, spatial = strides_and_sizes(draw_, rank, MAX_OUT[rank])
    return PoolConfig(rank=rank, batch=draw_(st.integers(1, 3)), channels=draw_(st.integers(1, 3)),
                      spatial=spatial, window=window, stride=stride,
                      fill=draw_(st.sampled_from(FILLS)),
                      dtype=draw_(st.sampled_from(ordered_dtypes(dtypes))))


def strategy_for(rank: int):
    def strategy(dtypes=DTYPES):
        return _pool_configs(rank, tuple(dtypes))
    return strategy


def make_inputs(c: PoolConfig, seed: int) -> dict:
    """x by fill: uniform in [-1, 1); small integers (ties); or uniform with +-inf and NaN."""
    rng = case_rng(seed)
    shape = (c.batch, c.channels, *c.spatial)
    if c.fill == "ties":
        x = round_to(rng.integers(-2, 3, size=shape).astype(np.float64), c.dtype)
    else:
        x = draw(rng, shape, c.dtype)
        if c.fill == "specials":
            u = rng.random(shape)
            x[u < 0.08], x[(u >= 0.08) & (u < 0.16)], x[(u >= 0.16) & (u < 0.22)] = \
                np.inf, -np.inf, np.nan
    return {"x": x, "dy": draw(rng, (c.batch, c.channels, *c.out_spatial), c.dtype)}


def _with_sum(out: dict) -> dict:
    if "dx" in out:
        out["dx_sum"] = out["dx"].sum(axis=tuple(range(2, out["dx"].ndim)))
    return out


# ---------------------------------------------------------------- TF sides
def _tf_run(c: PoolConfig, inp: dict, pool) -> dict:
    from parity.backends import tf as B

    tf = B.tf()
    x = B.constant(layout.channels_first_to_last(inp["x"]), c.dtype)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = pool(tf, x)
    return _with_sum(tf_outputs(c.dtype, inp, tape, y, {"x": x},
                                 {"x": layout.channels_last_to_first}))


def tf_nn(kind: str):
    def side(c: PoolConfig, inp: dict) -> dict:
        """tf.nn.{max,avg}_pool{1,2,3}d(padding="SAME"), channels last."""
        fn = f"{kind}_pool{c.rank}d"
        return _tf_run(c, inp, lambda tf, x: getattr(tf.nn, fn)(
            x, ksize=c.window, strides=c.stride, padding="SAME"))
    return side


def keras_layer(kind: str) -> KerasLayer:
    """keras.layers.MaxPooling{r}D / AveragePooling{r}D(padding="same")."""
    def build(keras, c: PoolConfig, dtype: str):
        name = f"{'MaxPooling' if kind == 'max' else 'AveragePooling'}{c.rank}D"
        return getattr(keras.layers, name)(pool_size=c.window, strides=c.stride,
                                           padding="same", dtype=dtype)
    return KerasLayer(build, post=_with_sum)


def tf_keras(kind: str):
    return tf_side(keras_layer(kind))


# ---------------------------------------------------------------- torch sides
def _torch_run(c: PoolConfig, inp: dict, fn) -> dict:
    return _with_sum(torch_run(c.dtype, inp, fn, params=("x",)))


def port(kind: str, rank: int):
    """parity.ports.{max,avg}_pool{rank}d_same, imported when it runs (a plain callable that
    runs through ``candidate_side`` like any audited one)."""
    def pool_same(x, window, stride):
        from parity.ports import pool as P

        return getattr(P, f"{kind}_pool{rank}d_same")(x, window, stride)
    return pool_same


def torch_module(kind: str, ceil_mode: bool):
    def side(c: PoolConfig, inp: dict) -> dict:
        """torch.nn.{Max,Avg}Pool{r}d(window, stride, padding=0[, ceil_mode=True])."""
        from parity.backends import torch as B

        cls = getattr(B.torch().nn, f"{'Max' if kind == 'max' else 'Avg'}Pool{c.rank}d")
        module = cls(c.window, c.stride, padding=0, ceil_mode=ceil_mode)
        return _torch_run(c, inp, module)
    return side


def torch_symmetric(kind: str):
    def side(c: PoolConfig, inp: dict) -> dict:
        """torch.nn.{Max,Avg}Pool{r}d(window, stride, padding=k//2): the usual hand port."""
        from parity.backends import torch as B

        cls = getattr(B.torch().nn, f"{'Max' if kind == 'max' else 'Avg'}Pool{c.rank}d")
        module = cls(c.window, c.stride, padding=tuple(k // 2 for k in c.window))
        return _torch_run(c, inp, module)
    return side


def _window_keyword(fn) -> str:
    """``window``, or ``kernel_size`` for a callable that names that and not ``window``."""
    import inspect

    try:
        names = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return "window"
    return "kernel_size" if "kernel_size" in names and "window" not in names else "window"


def candidate_side(fn):
    """A user's callable: ``fn(input, window=(k,)*rank, stride=(s,)*rank) -> output``
    (``kernel_size=`` instead of ``window=`` where the callable names that)."""
    key = _window_keyword(fn)

    def side(c: PoolConfig, inp: dict) -> dict:
        return _torch_run(c, inp, lambda x: fn(x, **{key: c.window}, stride=c.stride))
    return side


# ---------------------------------------------------------------- reference and bound
def reference_and_bounds(kind: str, semantics: str = "tf"):
    def reference(c: PoolConfig, inp: dict) -> tuple[dict, dict]:
        """Exact y and dx (or dx_sum where max-pool ties make dx undefined), and bounds; the
        max's NaN/-inf handling by ``semantics`` (TF's, or IEEE: NaN propagates)."""
        taps = math.prod(-(-k // s) for k, s in zip(c.window, c.stride))
        if kind == "max":
            r = reference_pool.max_pool(inp["x"], c.window, c.pads, c.stride, inp["dy"],
                                        semantics, c.dtype)
            bounds = {"y": rounding_bound(np.zeros_like(r["y"]), 1, c.dtype)}
        else:
            r = reference_pool.avg_pool(inp["x"], c.window, c.pads, c.stride, inp["dy"])
            bounds = {"y": rounding_bound(r["y_magnitude"], math.prod(c.window) + 1, c.dtype)}
        exact = {"y": r["y"]}
        if kind == "max" and r["ties"]:
            exact["dx_sum"] = r["dx"].sum(axis=tuple(range(2, r["dx"].ndim)))
            mag = np.abs(inp["dy"]).sum(axis=tuple(range(2, inp["dy"].ndim)))
            bounds["dx_sum"] = rounding_bound(mag, math.prod(c.out_spatial) * taps, c.dtype)
        else:
            exact["dx"] = r["dx"]
            bounds["dx"] = rounding_bound(r["dx_magnitude"], taps + 1, c.dtype)
        return exact, bounds
    return reference


# ---------------------------------------------------------------- registration
for _kind in ("max", "avg"):
    for _rank in (1, 2, 3):
        register(OpPair(
            name=f"{_kind}_pool{_rank}d_same", family="pool",
            description=f"SAME {'max' if _kind == 'max' else 'average'} pooling, {_rank}-D; "
                        "padded cells never count",
            config_type=PoolConfig, strategy=strategy_for(_rank), make_inputs=make_inputs,
            realistic=shaped_like("pool", strategy_for(_rank)) if _rank == 2 else None,
            reference=reference_and_bounds(_kind),
            reference_ieee=reference_and_bounds(_kind, "ieee") if _kind == "max" else None,
            nonfinite_fills=("fill", ("specials",)), tags=("same-pool", f"{_kind}-pool"),
            tf_sides={"tf.nn": tf_nn(_kind), "keras": tf_keras(_kind)}, audit_tf="tf.nn",
            torch_sides={"port": candidate_side(port(_kind, _rank)), "native": torch_module(_kind, False),
                         "ceil": torch_module(_kind, True), "symmetric": torch_symmetric(_kind)},
            variants={
                "port": Variant("port", "tf.nn", "port", "tf.nn SAME pooling vs parity.ports"),
                "native": Variant("native", "tf.nn", "native",
                                  "tf.nn SAME pooling vs torch.nn pooling with padding=0 "
                                  "(the seeds/001 answer)"),
                "ceil": Variant("ceil", "tf.nn", "ceil",
                                "tf.nn SAME pooling vs torch.nn pooling, padding=0, ceil_mode=True"),
                "keras": Variant("keras", "keras", "port", "Keras pooling layer vs parity.ports"),
                "symmetric": Variant("symmetric", "tf.nn", "symmetric",
                                     "tf.nn SAME pooling vs torch.nn pooling with padding=k//2"),
            },
            candidate_side=candidate_side,
            candidate_doc=f"fn(input, window=({', '.join(f'k{i}' for i in range(_rank))}), "
                          f"stride=({', '.join(f's{i}' for i in range(_rank))})) -> output, one "
                          "value per spatial dimension (kernel_size= is accepted for window=); "
                          "NC[D][H]W input; or a module class M(kernel_size, stride=)",
            outputs=("y", "dx") if _kind == "avg" else ("y", "dx (dx_sum where ties)")))
