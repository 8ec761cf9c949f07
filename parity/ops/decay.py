"""weight_decay: the weights after 1-3 optimizer steps from identical weights and gradients.

``form`` is how the decay is asked for on the Keras side: ``keras_l2`` (``regularizers.L2(l)``
in the loss), ``slim_l2`` (``l * tf.nn.l2_loss(w)`` in the loss, slim's ``l2_regularizer``) or
``decoupled`` (the optimizer's own ``weight_decay=l``; ``AdamW`` for Adam). The gradients of
the rest of the loss are seeded random ``g_t``. Outputs ``w{t}``: the weights after step ``t``.

Variants: ``port`` = the exact torch translation (``SGD(weight_decay=2l)`` for Keras L2,
``SGD(weight_decay=l)`` for slim, ``parity.ports.KerasSGD``/``KerasAdam`` where no torch setting
exists); ``native`` = the obvious translation (``SGD``/``Adam(weight_decay=l)``, ``AdamW`` for
decoupled Adam). Reference: Keras's update rules in float64.

Bound: each step adds a handful of correctly rounded operations on values of the size of
``|w| + |update|``; ``n = 6 * steps``; for Adam the update also carries the cancellation of
``1 - beta**t`` in the working dtype (condition number ``beta**t / (1 - beta**t)``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from hypothesis import strategies as st

from parity.core.tolerance import rounding_bound
from parity.core.config import Config, require, require_dtype
from parity.core.numerics import case_rng, draw
from parity.spec.registry import OpPair, Variant, register

FORMS = ("keras_l2", "slim_l2", "decoupled")
OPTIMIZERS = ("sgd", "adam")


@dataclass(frozen=True)
class DecayConfig(Config):
    optimizer: str
    form: str
    size: int = 4
    steps: int = 2
    learning_rate: float = 0.1
    momentum: float = 0.0
    strength: float = 1e-2
    dtype: str = "float32"

    def validate(self) -> None:
        require(self.optimizer in OPTIMIZERS, f"optimizer must be one of {', '.join(OPTIMIZERS)}")
        require(self.form in FORMS, f"form must be one of {', '.join(FORMS)}")
        require(self.size >= 1 and 1 <= self.steps <= 5, "size >= 1, steps 1 to 5")
        require(self.learning_rate > 0 and self.strength > 0 and 0 <= self.momentum < 1,
                "learning_rate and strength > 0, momentum in [0, 1)")
        require(self.optimizer == "sgd" or self.momentum == 0, "momentum is an SGD setting")
        require_dtype(self.dtype)


@st.composite
def _configs(draw_, dtypes):
    optimizer = draw_(st.sampled_from(OPTIMIZERS))
    dtypes = [d for d in dtypes if d in ("float32", "float64")] or ["float32"]
    return DecayConfig(optimizer=optimizer, form=draw_(st.sampled_from(FORMS)),
                       size=draw_(st.integers(1, 8)), steps=draw_(st.integers(1, 3)),
                       learning_rate=draw_(st.sampled_from((0.1, 0.01))),
                       momentum=draw_(st.sampled_from((0.0, 0.9))) if optimizer == "sgd" else 0.0,
                       strength=draw_(st.sampled_from((1e-2, 1e-4))),
                       dtype=draw_(st.sampled_from(sorted(dtypes))))


def make_inputs(c: DecayConfig, seed: int) -> dict:
    rng = case_rng(seed)
    inp = {"w": draw(rng, (c.size,), c.dtype)}
    for t in range(c.steps):
        inp[f"g{t}"] = draw(rng, (c.size,), c.dtype)
    return inp


# ---------------------------------------------------------------- TF side
def tf_keras(c: DecayConfig, inp: dict) -> dict:
    """Keras 3 SGD/Adam/AdamW on a Keras variable; the L2 forms through the loss's gradient."""
    from parity.backends import tf as B

    keras, tf = B.keras(), B.tf()
    decoupled = c.strength if c.form == "decoupled" else None
    if c.optimizer == "sgd":
        opt = keras.optimizers.SGD(learning_rate=c.learning_rate, momentum=c.momentum,
                                   weight_decay=decoupled)
    elif decoupled:
        opt = keras.optimizers.AdamW(learning_rate=c.learning_rate, weight_decay=decoupled)
    else:
        opt = keras.optimizers.Adam(learning_rate=c.learning_rate)
    w = keras.Variable(inp["w"].astype(c.dtype), dtype=c.dtype)
    regularizer = keras.regularizers.L2(c.strength)
    out = {}
    for t in range(c.steps):
        g = B.constant(inp[f"g{t}"], c.dtype)
        with tf.GradientTape() as tape:
            v = w.value
            tape.watch(v)
            loss = tf.reduce_sum(g * v)
            if c.form == "keras_l2":
                loss += regularizer(v)
            elif c.form == "slim_l2":
                loss += c.strength * tf.nn.l2_loss(v)
        opt.apply_gradients([(tape.gradient(loss, v), w)])
        out[f"w{t}"] = B.to_numpy(w.value)
    return out


# ---------------------------------------------------------------- torch sides
def _torch_steps(c: DecayConfig, inp: dict, make_optimizer) -> dict:
    from parity.backends import torch as B

    p = B.tensor(inp["w"], c.dtype, True)
    opt = make_optimizer([p])
    out = {}
    for t in range(c.steps):
        p.grad = B.tensor(inp[f"g{t}"], c.dtype)
        opt.step()
        out[f"w{t}"] = B.to_numpy(p)
    return out


def torch_port(c: DecayConfig, inp: dict) -> dict:
    """The exact translation: a torch setting where one exists, parity.ports otherwise."""
    from parity.backends import torch as B
    from parity.ports import optim

    torch = B.torch()
    lr, l = optim.keras_float(c.learning_rate), c.strength  # Keras rounds lr to float32
    if c.optimizer == "sgd" and c.form != "decoupled":
        # regularizers.L2 casts l like the optimizers do (float32); slim's l * l2_loss is exact
        wd = 2 * optim.keras_float(l) if c.form == "keras_l2" else l
        make = lambda ps: torch.optim.SGD(ps, lr=lr, momentum=optim.keras_float(c.momentum),
                                          weight_decay=wd)
    elif c.optimizer == "sgd":
        make = lambda ps: optim.KerasSGD(ps, lr=lr, momentum=c.momentum, weight_decay=l)
    else:  # Keras Adam: epsilon before the bias correction; L2 forms are coupled gradients
        coupled = {"keras_l2": 2 * optim.keras_float(l), "slim_l2": l}.get(c.form, 0.0)
        decoupled = l if c.form == "decoupled" else None

        class CoupledKerasAdam(optim.KerasAdam):
            @torch.no_grad()
            def step(self):
                for p in self.param_groups[0]["params"]:
                    p.grad.add_(p * coupled)
                super().step()
        make = lambda ps: CoupledKerasAdam(ps, lr=lr, weight_decay=decoupled)
    return _torch_steps(c, inp, make)


def torch_native(c: DecayConfig, inp: dict) -> dict:
    """The obvious translation: the same number as torch's weight_decay."""
    from parity.backends import torch as B

    torch = B.torch()
    if c.optimizer == "sgd":
        make = lambda ps: torch.optim.SGD(ps, lr=c.learning_rate, momentum=c.momentum,
                                          weight_decay=c.strength)
    elif c.form == "decoupled":
        make = lambda ps: torch.optim.AdamW(ps, lr=c.learning_rate, weight_decay=c.strength)
    else:
        make = lambda ps: torch.optim.Adam(ps, lr=c.learning_rate, weight_decay=c.strength)
    return _torch_steps(c, inp, make)


# ---------------------------------------------------------------- reference and bound
def reference_and_bounds(c: DecayConfig, inp: dict) -> tuple[dict, dict]:
    """Keras's update rules in float64 (SGD with momentum; Adam with epsilon 1e-7), with the
    hyperparameters as Keras holds them (learning rate, decay, momentum, betas: float32). Adam's ``1 - beta**t`` loses ``beta**t / (1 -
    beta**t)`` ulps to cancellation in the working dtype: the bound carries that factor."""
    from parity.ports.optim import keras_float

    w, lr, l = inp["w"].copy(), keras_float(c.learning_rate), c.strength
    wd, mom = keras_float(l), keras_float(c.momentum)
    b1, b2 = keras_float(0.9), keras_float(0.999)
    m, v, mag = np.zeros_like(w), np.zeros_like(w), np.abs(w)
    exact, bounds = {}, {}
    for t in range(c.steps):
        g = inp[f"g{t}"] + {"keras_l2": 2 * wd * w, "slim_l2": l * w}.get(c.form, 0.0)
        if c.form == "decoupled":
            w = w - w * wd * lr
        if c.optimizer == "sgd":
            update = (m * mom - lr * g) if c.momentum else -lr * g
            m = update if c.momentum else m
        else:
            k = t + 1
            alpha = lr * math.sqrt(1 - b2 ** k) / (1 - b1 ** k)
            m = m + (g - m) * 0.1
            v = v + (g * g - v) * 0.001
            update = -m * alpha / (np.sqrt(v) + 1e-7)
            cancellation = 0.999 ** k / (1 - 0.999 ** k) + 0.9 ** k / (1 - 0.9 ** k)
            mag = mag + np.abs(update) * cancellation
        w = w + update
        mag = mag + np.abs(update) + np.abs(w)
        exact[f"w{t}"] = w.copy()
        bounds[f"w{t}"] = rounding_bound(mag, 6 * (t + 1), c.dtype)
    return exact, bounds


register(OpPair(
    name="weight_decay", family="decay",
    description="weights after 1-3 Keras SGD/Adam(W) steps with L2 in the loss (Keras L2, slim "
                "l2_loss) or decoupled weight_decay, vs torch optimizers",
    config_type=DecayConfig, strategy=lambda dtypes=("float32", "float64"): _configs(tuple(dtypes)),
    make_inputs=make_inputs, reference=reference_and_bounds, tf_sides={"keras": tf_keras},
    audit_tf="keras",
    torch_sides={"port": torch_port, "native": torch_native},
    variants={"port": Variant("port", "keras", "port", "Keras optimizer vs the exact torch "
                              "translation (SGD(weight_decay=2l) for L2(l), KerasSGD/KerasAdam)"),
              "native": Variant("native", "keras", "native", "Keras optimizer vs torch "
                                "SGD/Adam(weight_decay=l), AdamW(weight_decay=l)")},
    candidate_side=lambda fn: (lambda c, inp: _torch_steps(c, inp, lambda ps: fn(
        ps, optimizer=c.optimizer, form=c.form, lr=c.learning_rate, momentum=c.momentum,
        strength=c.strength))),
    candidate_doc="fn(params, optimizer=, form=, lr=, momentum=, strength=) -> torch optimizer "
                  "reproducing the Keras setting",
    outputs=("w{t}",)))
