"""init_he_*, init_glorot_*, init_lecun_*, init_variance_scaling, init_truncated_normal.

Keras initializers vs ``torch.nn.init`` (``native``) and ``parity.ports.init`` (``port``); the
machinery (configs, kernel layouts, fans, pooled draws, the statistical judge) is in
``parity.ops.init``. Native pairings, as users write them:

=====================  ========================================================================
Keras                  torch
=====================  ========================================================================
HeNormal / HeUniform   ``kaiming_normal_`` / ``kaiming_uniform_(mode="fan_in", nonlinearity="relu")``
GlorotNormal/Uniform   ``xavier_normal_`` / ``xavier_uniform_``
LecunNormal/Uniform    ``kaiming_normal_`` / ``kaiming_uniform_(nonlinearity="linear")``
VarianceScaling        ``kaiming_*(a, mode, nonlinearity)``; ``xavier_*(gain)`` for ``fan_avg``,
                       with ``scale = calculate_gain(nonlinearity, a) ** 2``
TruncatedNormal        ``trunc_normal_(mean, std)``
=====================  ========================================================================
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from hypothesis import strategies as st

from parity.core.config import require
from parity.ops.init import (EXAMPLES_SHARE, MODES, InitConfig, derived, judge, keras_draws,
                             layer_fields, make_inputs, reference_fans, torch_draws, torch_groups,
                             used_fan, variance_scaling_claim)
from parity.spec.registry import OpPair, Variant, register

DISTRIBUTIONS = ("truncated_normal", "untruncated_normal", "uniform")
GAINS = {"linear": lambda s: 1.0, "conv2d": lambda s: 1.0, "sigmoid": lambda s: 1.0,
         "tanh": lambda s: 5.0 / 3, "relu": lambda s: math.sqrt(2.0),
         "leaky_relu": lambda s: math.sqrt(2.0 / (1 + s * s)), "selu": lambda s: 0.75}
"""The gains torch's ``calculate_gain`` documents, as closed forms of the negative slope."""
KERAS_INITIALIZERS: dict = {}
"""op name -> ``keras_initializer(keras, c, seed)``, the Keras side of each op (any backend)."""


@dataclass(frozen=True)
class VarianceScalingConfig(InitConfig):
    scale: float = 1.0
    mode: str = "fan_in"
    distribution: str = "truncated_normal"
    nonlinearity: str = "linear"
    negative_slope: float = 0.0

    def validate(self) -> None:
        super().validate()
        require(self.mode in MODES, f"mode must be one of {', '.join(MODES)}")
        require(self.distribution in DISTRIBUTIONS,
                f"distribution must be one of {', '.join(DISTRIBUTIONS)}")
        require(self.nonlinearity in GAINS, f"nonlinearity must be one of {', '.join(GAINS)}")
        gain = GAINS[self.nonlinearity](self.negative_slope)
        require(math.isclose(self.scale, gain * gain, rel_tol=1e-12),
                f"scale must be the documented gain of {self.nonlinearity} squared "
                f"({gain * gain!r}): the native torch side passes the nonlinearity")


@dataclass(frozen=True)
class TruncatedNormalConfig(InitConfig):
    mean: float = 0.0
    stddev: float = 0.05

    def validate(self) -> None:
        super().validate()
        require(self.stddev > 0 and math.isfinite(self.mean), "stddev must be > 0")


@dataclass(frozen=True)
class Preset:
    """A Keras initializer that is VarianceScaling with fixed settings."""
    op_name: str
    keras_name: str
    scale: float
    mode: str
    distribution: str
    native: str          # the torch.nn.init function
    nonlinearity: str

    @property
    def port(self) -> str:
        return self.op_name.removeprefix("init_") + "_"


PRESETS = (
    Preset("init_he_normal", "HeNormal", 2.0, "fan_in", "truncated_normal", "kaiming_normal_", "relu"),
    Preset("init_he_uniform", "HeUniform", 2.0, "fan_in", "uniform", "kaiming_uniform_", "relu"),
    Preset("init_glorot_normal", "GlorotNormal", 1.0, "fan_avg", "truncated_normal", "xavier_normal_", ""),
    Preset("init_glorot_uniform", "GlorotUniform", 1.0, "fan_avg", "uniform", "xavier_uniform_", ""),
    Preset("init_lecun_normal", "LecunNormal", 1.0, "fan_in", "truncated_normal", "kaiming_normal_", "linear"),
    Preset("init_lecun_uniform", "LecunUniform", 1.0, "fan_in", "uniform", "kaiming_uniform_", "linear"),
)


def _register(name: str, description: str, config_type, strategy, keras_initializer,
              native_fill, port_fill, texts: tuple[str, str], params, candidate_doc: str,
              claims, mode_of, names, fans: tuple[str | None, str | None] = ("torch", "keras")):
    """One init op pair: Keras ``keras_initializer(keras, c, seed)`` vs ``native_fill(c)`` and
    ``port_fill(c)`` (each ``(weight, generator) -> None``); an audited candidate is called
    ``fn(weight, generator=, **params(c))``; ``fans``: whose fans the native and port sides
    report (see ``torch_draws``)."""
    register(OpPair(
        name=name, family="init", description=description, config_type=config_type,
        strategy=strategy, make_inputs=make_inputs, reference=None,
        tf_sides={"keras": lambda c, inp: keras_draws(
            c, inp["tf"], lambda keras, s: keras_initializer(keras, c, s))}, audit_tf="keras",
        torch_sides={"native": lambda c, inp: torch_draws(c, inp["torch"], native_fill(c), fans[0]),
                     "port": lambda c, inp: torch_draws(c, inp["torch"], port_fill(c), fans[1])},
        variants={"port": Variant("port", "keras", "port", texts[0]),
                  "native": Variant("native", "keras", "native", texts[1])},
        candidate_side=lambda fn: (lambda c, inp: torch_draws(c, inp["torch"], lambda w, g: fn(
            w, generator=g, **params(c)), None)),
        candidate_doc=candidate_doc, outputs=("kernel",), examples_share=EXAMPLES_SHARE,
        derived=names, judge=judge(claims, mode_of)))
    KERAS_INITIALIZERS[name] = keras_initializer


def _layer_params(c) -> dict:
    return {"layer": c.kind, "groups": torch_groups(c)}


def _register_preset(p: Preset) -> None:
    def keras_initializer(keras, c, seed):
        return getattr(keras.initializers, p.keras_name)(seed=seed)

    def native_fill(c):
        from parity.backends import torch as B
        fn = getattr(B.torch().nn.init, p.native)
        kw = {"mode": "fan_in", "nonlinearity": p.nonlinearity} if p.nonlinearity else {}
        return lambda w, g: fn(w, generator=g, **kw)

    def port_fill(c):
        from parity.ports import init
        return lambda w, g: getattr(init, p.port)(w, generator=g, **_layer_params(c))

    native_call = f"{p.native}(" + (f"mode='fan_in', nonlinearity={p.nonlinearity!r}"
                                    if p.nonlinearity else "") + ")"
    _register(
        p.op_name, f"keras.initializers.{p.keras_name} (VarianceScaling({p.scale}, {p.mode!r}, "
                   f"{p.distribution!r})) vs torch.nn.init.{native_call}, as distributions",
        InitConfig, lambda dtypes=("float32",): layer_fields(tuple(dtypes)).map(
            lambda fields: InitConfig(**fields)),
        keras_initializer, native_fill, port_fill,
        (f"Keras {p.keras_name} vs parity.ports.init.{p.port}",
         f"Keras {p.keras_name} vs torch.nn.init.{native_call}"), _layer_params,
        "fn(weight, layer=, groups=, generator=) fills the torch weight in place "
        "(layer: dense|conv|conv_transpose|depthwise; groups = C for depthwise)",
        lambda c: {"kernel": variance_scaling_claim(
            p.scale, used_fan(reference_fans(c), p.mode), p.distribution)},
        lambda c: p.mode, derived(p.mode, p.distribution))


for _preset in PRESETS:
    _register_preset(_preset)


# ---------------------------------------------------------------- VarianceScaling
@st.composite
def _vs_configs(draw, dtypes):
    nonlinearity = draw(st.sampled_from(sorted(GAINS)))
    slope = draw(st.sampled_from((0.0, 0.01, 0.2, math.sqrt(5)))) \
        if nonlinearity == "leaky_relu" else 0.0
    return VarianceScalingConfig(**draw(layer_fields(dtypes)), scale=GAINS[nonlinearity](slope) ** 2,
                                 mode=draw(st.sampled_from(MODES)),
                                 distribution=draw(st.sampled_from(DISTRIBUTIONS)),
                                 nonlinearity=nonlinearity, negative_slope=slope)


def _vs_native_fill(c):
    from parity.backends import torch as B
    init = B.torch().nn.init
    normal = c.distribution != "uniform"
    if c.mode == "fan_avg":
        gain = init.calculate_gain(c.nonlinearity, c.negative_slope)
        fn = init.xavier_normal_ if normal else init.xavier_uniform_
        return lambda w, g: fn(w, gain=gain, generator=g)
    fn = init.kaiming_normal_ if normal else init.kaiming_uniform_
    return lambda w, g: fn(w, a=c.negative_slope, mode=c.mode, nonlinearity=c.nonlinearity,
                           generator=g)


def _vs_params(c) -> dict:
    return dict(_layer_params(c), scale=c.scale, mode=c.mode, distribution=c.distribution)


def _vs_keras(keras, c, seed):
    return keras.initializers.VarianceScaling(c.scale, c.mode, c.distribution, seed=seed)


def _vs_port_fill(c):
    from parity.ports.init import variance_scaling_
    return lambda w, g: variance_scaling_(w, generator=g, **_vs_params(c))


_register(
    "init_variance_scaling", "keras.initializers.VarianceScaling(scale, mode, distribution) vs "
    "torch kaiming_*/xavier_* with the nonlinearity whose gain**2 is scale",
    VarianceScalingConfig, lambda dtypes=("float32",): _vs_configs(tuple(dtypes)),
    _vs_keras, _vs_native_fill, _vs_port_fill,
    ("Keras VarianceScaling vs parity.ports.init.variance_scaling_",
     "Keras VarianceScaling vs kaiming_*(a, mode, nonlinearity) / xavier_*(gain)"), _vs_params,
    "fn(weight, scale=, mode=, distribution=, layer=, groups=, generator=) fills the torch "
    "weight in place",
    lambda c: {"kernel": variance_scaling_claim(
        c.scale, used_fan(reference_fans(c), c.mode), c.distribution)},
    lambda c: c.mode, derived(None, None))


# ---------------------------------------------------------------- TruncatedNormal
@st.composite
def _tn_configs(draw, dtypes):
    return TruncatedNormalConfig(**draw(layer_fields(dtypes)),
                                 mean=draw(st.sampled_from((0.0, 0.0, 0.5, -1.0))),
                                 stddev=draw(st.sampled_from((0.02, 0.05, 0.5, 1.0, 2.0))))


def _tn_claims(c):
    from parity.core.stats import Claim
    return {"kernel": Claim.truncated_normal(c.mean, c.stddev, c.mean - 2 * c.stddev,
                                             c.mean + 2 * c.stddev)}


def _tn_keras(keras, c, seed):
    return keras.initializers.TruncatedNormal(c.mean, c.stddev, seed=seed)


def _tn_native_fill(c):
    from parity.backends import torch as B
    fn = B.torch().nn.init.trunc_normal_
    return lambda w, g: fn(w, c.mean, c.stddev, generator=g)


def _tn_port_fill(c):
    from parity.ports.init import truncated_normal_
    return lambda w, g: truncated_normal_(w, c.mean, c.stddev, generator=g)


_register(
    "init_truncated_normal", "keras.initializers.TruncatedNormal(mean, stddev) (cut at mean +- "
    "2 stddev) vs torch.nn.init.trunc_normal_(mean, std) (cut at a=-2, b=2)",
    TruncatedNormalConfig, lambda dtypes=("float32",): _tn_configs(tuple(dtypes)),
    _tn_keras, _tn_native_fill, _tn_port_fill,
    ("Keras TruncatedNormal vs parity.ports.init.truncated_normal_",
     "Keras TruncatedNormal vs torch.nn.init.trunc_normal_(mean, std)"),
    lambda c: {"mean": c.mean, "stddev": c.stddev},
    "fn(weight, mean=, stddev=, generator=) fills the torch weight in place",
    _tn_claims, lambda c: None, derived(None, "truncated_normal"), fans=(None, None))
