"""init_*: weight initializers compared as distributions (``parity.core.stats``), never elementwise.

A case names a layer's kernel: ``dense``, ``conv1d``-``conv3d`` (with groups),
``conv_transpose1d``-``3d``, ``depthwise1d``/``2d``. The TF side calls the Keras initializer on
the Keras kernel shape; the torch sides fill a tensor of the torch weight shape. Each side pools
``calls`` independent draws (fresh seeds) until it holds ``SAMPLE_TARGET`` values, at most
``MAX_CALLS`` draws, and reports the fans its framework computed for its own layout
(``compute_fans`` in Keras, ``_calculate_fan_in_and_fan_out`` in torch; the ports report
``parity.ports.init.keras_fans``).

Reference: the distribution Keras documents (``VarianceScaling``: variance ``scale / fan``;
truncated normals cut at two parent standard deviations), with the fans the Keras docs define
for the layer (``reference_fans``), computed here from the config, not by either framework.

Variants: ``port`` = ``parity.ports.init`` (Keras's distribution for torch layouts); ``native``
= the torch function a user calls for the Keras initializer (``kaiming_*``, ``xavier_*``,
``trunc_normal_``). The fans a side used (``fan_in``, ``fan_out`` or their mean, by mode) must
equal the reference's exactly; that check has no false alarms.

Sample sizes: 2**15 values per side detect, with the per-test alpha of ``parity.core.stats`` and
power 0.999, a variance ratio of 1.066 (wrong gain, wrong fan mode whenever the two fans differ
by that much), and a missing truncation (2.3 % of an untruncated normal's mass lies outside the
truncated support; 0.27 % beyond 3 sigma where a truncated normal has none). A tiny kernel
(fewer than 2**9 values) gets ``MAX_CALLS`` draws and proportionally less power; its sample
size is recorded.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from hypothesis import strategies as st

from parity.core.config import Config, require, require_dtype
from parity.core.numerics import case_rng
from parity.core.stats import Claim, compare_samples
from parity.spec.strategies import ordered_dtypes

EXAMPLES_SHARE = 0.25   # of a profile's configs: a case costs about 0.13 s (2 x 2**15 draws)
SAMPLE_TARGET = 2 ** 15
MAX_CALLS = 64
LAYERS = ("dense", "conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
          "conv_transpose3d", "depthwise1d", "depthwise2d")
MODES = ("fan_in", "fan_out", "fan_avg")


@dataclass(frozen=True)
class InitConfig(Config):
    """A layer's kernel: ``out_channels`` = ``in_channels * multiplier`` for depthwise."""
    layer: str
    in_channels: int
    out_channels: int
    kernel: tuple[int, ...] = ()
    groups: int = 1
    dtype: str = "float32"

    @property
    def kind(self) -> str:
        return self.layer.rstrip("123d") if self.layer != "dense" else "dense"

    @property
    def rank(self) -> int:
        return 0 if self.layer == "dense" else int(self.layer[-2])

    def validate(self) -> None:
        require(self.layer in LAYERS, f"layer must be one of {', '.join(LAYERS)}")
        require(len(self.kernel) == self.rank and all(k >= 1 for k in self.kernel),
                f"{self.layer} needs {self.rank} kernel sizes >= 1")
        require(self.in_channels >= 1 and self.out_channels >= 1, "channels must be >= 1")
        require(self.groups >= 1 and self.in_channels % self.groups == 0 and
                self.out_channels % self.groups == 0, "groups must divide both channel counts")
        require(self.groups == 1 or self.kind == "conv", "groups is a conv setting")
        require(self.kind != "depthwise" or self.out_channels % self.in_channels == 0,
                "depthwise out_channels must be in_channels * multiplier")
        require_dtype(self.dtype)


def torch_groups(c: InitConfig) -> int:
    """The ``groups`` of the torch module: C for depthwise."""
    return c.in_channels if c.kind == "depthwise" else c.groups


def keras_shape(c: InitConfig) -> tuple[int, ...]:
    k, i, o = tuple(c.kernel), c.in_channels, c.out_channels
    return {"dense": (i, o), "conv": k + (i // c.groups, o), "conv_transpose": k + (o, i),
            "depthwise": k + (i, o // i)}[c.kind]


def torch_shape(c: InitConfig) -> tuple[int, ...]:
    k, i, o = tuple(c.kernel), c.in_channels, c.out_channels
    return {"dense": (o, i), "conv": (o, i // c.groups) + k, "conv_transpose": (i, o) + k,
            "depthwise": (o, 1) + k}[c.kind]


def reference_fans(c: InitConfig) -> tuple[int, int]:
    """Input and output units per weight as Keras's docs define them for the layer."""
    rf, i, o = math.prod(c.kernel), c.in_channels, c.out_channels
    return {"dense": (i, o), "conv": (i // c.groups * rf, o * rf),
            "conv_transpose": (o * rf, i * rf), "depthwise": (i * rf, o // i * rf)}[c.kind]


def used_fan(fans, mode: str) -> float | None:
    if fans is None:
        return None
    return {"fan_in": fans[0], "fan_out": fans[1], "fan_avg": (fans[0] + fans[1]) / 2}[mode]


def calls(c: InitConfig) -> int:
    return min(MAX_CALLS, -(-SAMPLE_TARGET // math.prod(keras_shape(c))))


def make_inputs(c: InitConfig, seed: int) -> dict:
    """Independent seeds for each side's draws."""
    rng = case_rng(seed)
    return {side: [int(s) for s in rng.integers(0, 2 ** 31 - 1, calls(c))]
            for side in ("tf", "torch")}


def variance_scaling_claim(scale: float, fan: float, distribution: str) -> Claim:
    """Keras's documented VarianceScaling distribution for one fan (Keras floors it at 1)."""
    from scipy import stats

    var = scale / max(1.0, fan)
    if distribution == "uniform":
        limit = math.sqrt(3 * var)
        return Claim.uniform(-limit, limit)
    if distribution == "untruncated_normal":
        return Claim.normal(0.0, math.sqrt(var))
    std = math.sqrt(var) / float(stats.truncnorm(-2, 2).std())
    return Claim.truncated_normal(0.0, std, -2 * std, 2 * std)


# ---------------------------------------------------------------- drawing on each side
def keras_draws(c: InitConfig, seeds, make_initializer, backend=None) -> dict:
    """The Keras initializer ``make_initializer(keras, seed)`` on the Keras kernel shape, pooled;
    ``backend``: the parity backend module whose Keras runs it (default ``parity.backends.tf``;
    ``parity.backends.keras_torch`` for Keras on torch)."""
    import numpy as np

    if backend is None:
        from parity.backends import tf as backend

    keras, shape = backend.keras(), keras_shape(c)
    values = [backend.to_numpy(make_initializer(keras, s)(shape, dtype=c.dtype)).ravel()
              for s in seeds]
    return {"kernel": np.concatenate(values), "fans": tuple(backend.keras_fans(shape))}


def torch_draws(c: InitConfig, seeds, fill, fans: str | None) -> dict:
    """``fill(weight, generator)`` on a torch weight, pooled; ``fans`` names whose fans to report:
    ``"torch"`` (torch's own), ``"keras"`` (``parity.ports.init.keras_fans``) or None."""
    import numpy as np

    from parity.backends import torch as B

    torch = B.torch()
    w = torch.empty(torch_shape(c), dtype=getattr(torch, c.dtype))
    values = []
    for s in seeds:
        fill(w, B.generator(s))
        values.append(B.to_numpy(w).ravel())
    return dict(reported_fans(c, w, fans), kernel=np.concatenate(values))


def reported_fans(c: InitConfig, weight, fans: str | None) -> dict:
    """``{"fans": ...}`` a torch side reports for its weight: torch's own (``"torch"``), the
    port's Keras fans (``"keras"``), or nothing (``None``, e.g. an audited candidate)."""
    if fans == "torch":
        from parity.backends import torch as B
        return {"fans": tuple(B.fans(weight))}
    if fans == "keras":
        from parity.ports.init import keras_fans
        return {"fans": keras_fans(weight.shape, c.kind, torch_groups(c))}
    return {}


def judge(claims, mode_of):
    """The op's comparison: ``claims(c) -> {output: Claim}``; ``mode_of(c)`` the fan it uses."""
    def compare(c: InitConfig, inputs: dict, tf_out: dict, torch_out: dict) -> dict:
        expected = claims(c)
        out = {}
        for name, claim in expected.items():
            m = compare_samples(tf_out[name], torch_out[name], claim, c.dtype, len(expected))
            mode = mode_of(c)
            if name == "kernel" and mode:
                ref = reference_fans(c)
                sides = {s: o.get("fans") for s, o in (("tf", tf_out), ("torch", torch_out))}
                match = all(f is None or used_fan(f, mode) == used_fan(ref, mode)
                            for f in sides.values())
                m["fans"] = {"tf": _listed(sides["tf"]), "torch": _listed(sides["torch"]),
                             "reference": list(ref), "mode": mode, "match": match}
                m["failed"] = m["failed"] or not match
            out[name] = m
        return out
    return compare


def derived(mode: str | None, distribution: str):
    """Names the divergence registry's predicates see besides the config fields."""
    def names(c: InitConfig) -> dict:
        depthwise = c.kind == "depthwise"
        return {"mode": mode or getattr(c, "mode", None), "distribution": distribution or
                getattr(c, "distribution", None), "depthwise": depthwise,
                "multiplier": c.out_channels // c.in_channels if depthwise else None}
    names.fields = ("mode", "distribution", "depthwise", "multiplier")
    return names


def _listed(fans):
    return None if fans is None else [int(f) for f in fans]


# ---------------------------------------------------------------- strategy
@st.composite
def layer_fields(draw, dtypes, layers=LAYERS) -> dict:
    """Fields of a valid ``InitConfig``: realistic channel counts and kernel sizes."""
    layer = draw(st.sampled_from(layers))
    rank = 0 if layer == "dense" else int(layer[-2])
    kernel = tuple(draw(st.integers(1, 5 if rank < 3 else 3)) for _ in range(rank))
    groups = 1
    if layer == "dense":
        i, o = draw(st.integers(1, 256)), draw(st.integers(1, 256))
    elif layer.startswith("depthwise"):
        i = draw(st.integers(1, 32))
        o = i * draw(st.integers(1, 4))
    elif layer.startswith("conv_transpose"):
        i, o = draw(st.integers(1, 64)), draw(st.integers(1, 64))
    else:
        groups = draw(st.sampled_from((1, 1, 1, 2, 3)))
        i, o = groups * draw(st.integers(1, 32)), groups * draw(st.integers(1, 32))
    return {"layer": layer, "in_channels": i, "out_channels": o, "kernel": kernel,
            "groups": groups, "dtype": draw(st.sampled_from(ordered_dtypes(dtypes)))}
