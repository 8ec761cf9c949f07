"""optimizer_step: two weight tensors after 1-3 optimizer steps from identical weights and
gradients, for the optimizer settings whose torch meaning is not the number Keras takes.

* ``optimizer``: ``sgd``, ``nesterov`` (``SGD(nesterov=True)``), ``rmsprop`` (``rho`` 0.9,
  ``epsilon`` 1e-7).
* ``schedule``: ``constant``, or ``decay`` (``ExponentialDecay(lr, 1, 0.5)``: the learning rate
  halves each step). Keras's momentum buffer holds ``-lr_t * g`` (``m = momentum*m - lr_t*g``),
  torch's holds ``g`` and multiplies by the step's ``lr`` after: the same while the learning rate
  is constant, not once it changes.
* ``clipnorm``: 0 (none) or a norm: Keras's ``clipnorm`` clips each gradient by its own norm
  (``g * c / max(|g|, c)``); torch's ``clip_grad_norm_`` clips by the norm of all the
  parameters' gradients together (``c / (|g| + 1e-6)``).

Outputs ``w{t}``, ``b{t}``: the two tensors after step ``t``. Variants: ``port`` = the exact
torch translation (``torch.optim.SGD`` where it is exact, ``parity.ports.optim.KerasSGD``,
``KerasRMSprop``, ``keras_clip_by_norm_``); ``native`` = the obvious one (``torch.optim.SGD``
with the step's lr set in its group as a scheduler does, ``torch.optim.RMSprop(alpha=rho,
eps=epsilon)``, ``torch.nn.utils.clip_grad_norm_`` over both tensors; the learning rates as
Python floats). Reference: Keras's update
rules in float64, with the hyperparameters rounded as Keras rounds them.

Bound: each step adds a handful of correctly rounded operations on values of the size of
``|w| + |update|``; ``n = 8 * steps`` (the clip's norm adds the tensor's size).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from hypothesis import strategies as st

from parity.core.config import Config, require, require_dtype
from parity.core.numerics import case_rng, draw
from parity.core.tolerance import rounding_bound
from parity.spec.registry import OpPair, Variant, register

OPTIMIZERS = ("sgd", "nesterov", "rmsprop")
SCHEDULES = ("constant", "decay")
RHO, EPSILON = 0.9, 1e-7


@dataclass(frozen=True)
class OptimizerStepConfig(Config):
    optimizer: str
    schedule: str = "constant"
    clipnorm: float = 0.0
    momentum: float = 0.0
    size: int = 4
    steps: int = 2
    learning_rate: float = 0.1
    dtype: str = "float32"

    def validate(self) -> None:
        require(self.optimizer in OPTIMIZERS, f"optimizer must be one of {', '.join(OPTIMIZERS)}")
        require(self.schedule in SCHEDULES, f"schedule must be one of {', '.join(SCHEDULES)}")
        require(self.size >= 1 and 1 <= self.steps <= 5, "size >= 1, steps 1 to 5")
        require(self.learning_rate > 0 and self.clipnorm >= 0 and 0 <= self.momentum < 1,
                "learning_rate > 0, clipnorm >= 0, momentum in [0, 1)")
        require(self.optimizer != "nesterov" or self.momentum > 0, "nesterov needs momentum")
        require_dtype(self.dtype)


@st.composite
def _configs(draw_, dtypes):
    optimizer = draw_(st.sampled_from(OPTIMIZERS))
    dtypes = [d for d in dtypes if d in ("float32", "float64")] or ["float32"]
    momentum = 0.9 if optimizer == "nesterov" else draw_(st.sampled_from((0.0, 0.9)))
    return OptimizerStepConfig(
        optimizer=optimizer, schedule=draw_(st.sampled_from(SCHEDULES)),
        clipnorm=draw_(st.sampled_from((0.0, 1.0))), momentum=momentum,
        size=draw_(st.integers(1, 8)), steps=draw_(st.integers(1, 3)),
        learning_rate=draw_(st.sampled_from((0.1, 0.01))),
        dtype=draw_(st.sampled_from(sorted(dtypes))))


def make_inputs(c: OptimizerStepConfig, seed: int) -> dict:
    rng = case_rng(seed)
    inp = {"w": draw(rng, (c.size,), c.dtype), "b": draw(rng, (2,), c.dtype)}
    for t in range(c.steps):   # gradients of up to 2 in size: a clip of 1 clips
        inp[f"gw{t}"] = draw(rng, (c.size,), c.dtype, -2.0, 2.0)
        inp[f"gb{t}"] = draw(rng, (2,), c.dtype, -2.0, 2.0)
    return inp


def learning_rates(c: OptimizerStepConfig) -> list[float]:
    """The learning rate of each step as Keras computes it (float32; halving is exact)."""
    from parity.ports.optim import keras_float

    lr = keras_float(c.learning_rate)
    return [lr * (0.5 ** t if c.schedule == "decay" else 1.0) for t in range(c.steps)]


# ---------------------------------------------------------------- TF side
def tf_keras(c: OptimizerStepConfig, inp: dict) -> dict:
    from parity.backends import tf as B

    return keras_steps(B, c, inp)


def keras_steps(B, c: OptimizerStepConfig, inp: dict) -> dict:
    """The Keras optimizer's steps on two Keras variables, on the Keras of the parity backend
    module ``B`` (``parity.backends.tf``, or ``.keras_torch``: the ``keras_torch`` variant)."""
    keras = B.keras()
    lr = keras.optimizers.schedules.ExponentialDecay(c.learning_rate, 1, 0.5) \
        if c.schedule == "decay" else c.learning_rate
    clip = {"clipnorm": c.clipnorm} if c.clipnorm else {}
    if c.optimizer == "rmsprop":
        opt = keras.optimizers.RMSprop(learning_rate=lr, rho=RHO, momentum=c.momentum,
                                       epsilon=EPSILON, **clip)
    else:
        opt = keras.optimizers.SGD(learning_rate=lr, momentum=c.momentum,
                                   nesterov=c.optimizer == "nesterov", **clip)
    w = keras.Variable(inp["w"].astype(c.dtype), dtype=c.dtype)
    b = keras.Variable(inp["b"].astype(c.dtype), dtype=c.dtype)
    out = {}
    for t in range(c.steps):
        opt.apply_gradients([(B.constant(inp[f"gw{t}"], c.dtype), w),
                             (B.constant(inp[f"gb{t}"], c.dtype), b)])
        out[f"w{t}"], out[f"b{t}"] = B.to_numpy(w.value), B.to_numpy(b.value)
    return out


# ---------------------------------------------------------------- torch sides
def _torch_steps(c: OptimizerStepConfig, inp: dict, make_optimizer, clip,
                 rates: list[float] | None = None) -> dict:
    """``make_optimizer(params)``; ``clip(params)`` before each step; the step's learning rate
    (``rates``, default Keras's) set in every group first, as a scheduler does."""
    from parity.backends import torch as B

    w, b = B.tensor(inp["w"], c.dtype, True), B.tensor(inp["b"], c.dtype, True)
    opt = make_optimizer([w, b])
    out = {}
    for t, lr in enumerate(rates or learning_rates(c)):
        w.grad, b.grad = B.tensor(inp[f"gw{t}"], c.dtype), B.tensor(inp[f"gb{t}"], c.dtype)
        clip([w, b])
        for group in opt.param_groups:
            group["lr"] = lr
        opt.step()
        out[f"w{t}"], out[f"b{t}"] = B.to_numpy(w), B.to_numpy(b)
    return out


def torch_port(c: OptimizerStepConfig, inp: dict) -> dict:
    """The exact translation: torch.optim.SGD while the lr is constant or there is no
    momentum, KerasSGD (the lr inside the momentum buffer) else, KerasRMSprop; Keras's clip."""
    from parity.backends import torch as B
    from parity.ports import optim

    torch = B.torch()
    nesterov = c.optimizer == "nesterov"
    if c.optimizer == "rmsprop":
        make = lambda ps: optim.KerasRMSprop(ps, rho=RHO, momentum=c.momentum, epsilon=EPSILON)
    elif c.schedule == "constant" or not c.momentum:
        make = lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=optim.keras_float(c.momentum),
                                          nesterov=nesterov)
    else:
        make = lambda ps: optim.KerasSGD(ps, momentum=c.momentum, nesterov=nesterov)
    clip = (lambda ps: optim.keras_clip_by_norm_(ps, c.clipnorm)) if c.clipnorm else \
        (lambda ps: None)
    return _torch_steps(c, inp, make, clip)


def torch_native(c: OptimizerStepConfig, inp: dict) -> dict:
    """The obvious translation: the same numbers given to torch's own optimizer and clip."""
    from parity.backends import torch as B

    torch = B.torch()
    if c.optimizer == "rmsprop":
        make = lambda ps: torch.optim.RMSprop(ps, lr=0.1, alpha=RHO, eps=EPSILON,
                                              momentum=c.momentum)
    else:
        make = lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=c.momentum,
                                          nesterov=c.optimizer == "nesterov")
    clip = (lambda ps: torch.nn.utils.clip_grad_norm_(ps, c.clipnorm)) if c.clipnorm else \
        (lambda ps: None)
    rates = [c.learning_rate * (0.5 ** t if c.schedule == "decay" else 1.0)
             for t in range(c.steps)]   # the Python floats
    return _torch_steps(c, inp, make, clip, rates)


# ---------------------------------------------------------------- reference and bound
def _clipped(g: np.ndarray, clipnorm: float) -> np.ndarray:
    if not clipnorm:
        return g
    norm = float(np.sqrt(np.sum(g * g)))
    return g * clipnorm / max(norm, clipnorm)


def reference_and_bounds(c: OptimizerStepConfig, inp: dict) -> tuple[dict, dict]:
    """Keras's rules in float64: SGD ``m = mu*m - lr_t*g; w += m`` (nesterov: ``w += mu*m -
    lr_t*g``), momentum in float32 as Keras casts it; RMSprop ``v = rho*v + (1-rho)*g**2;
    m = mu*m + lr_t*g/sqrt(v + eps); w -= m``, rho and mu exact (Keras multiplies by the Python
    floats); each gradient clipped by its own norm first."""
    from parity.ports.optim import keras_float

    exact, bounds = {}, {}
    for name in ("w", "b"):
        w = inp[name].copy()
        m, v, mag = np.zeros_like(w), np.zeros_like(w), np.abs(w)
        mu = keras_float(c.momentum) if c.optimizer != "rmsprop" else c.momentum
        for t, lr in enumerate(learning_rates(c)):
            g = _clipped(inp[f"g{name}{t}"], c.clipnorm)
            if c.optimizer == "rmsprop":
                v = RHO * v + (1 - RHO) * g * g
                increment = lr * g / np.sqrt(v + EPSILON)
                m = mu * m + increment if c.momentum else increment
                update = -m
            else:
                m = mu * m - lr * g if c.momentum else -lr * g
                update = mu * m - lr * g if c.optimizer == "nesterov" else m
            w = w + update
            mag = mag + np.abs(update) * (3 if c.optimizer == "rmsprop" else 1) + np.abs(w)
            exact[f"{name}{t}"] = w.copy()
            bounds[f"{name}{t}"] = rounding_bound(mag, 8 * (t + 1) + (w.size if c.clipnorm
                                                                         else 0), c.dtype)
    return exact, bounds


register(OpPair(
    name="optimizer_step", family="optim",
    description="two tensors after 1-3 Keras SGD (momentum, nesterov) / RMSprop steps, with a "
                "decaying learning rate and clipnorm, vs torch optimizers and clip_grad_norm_",
    config_type=OptimizerStepConfig,
    strategy=lambda dtypes=("float32", "float64"): _configs(tuple(dtypes)),
    make_inputs=make_inputs, reference=reference_and_bounds, tf_sides={"keras": tf_keras},
    audit_tf="keras",
    torch_sides={"port": torch_port, "native": torch_native},
    variants={"port": Variant("port", "keras", "port", "Keras optimizer vs the exact torch "
                              "translation (KerasSGD, KerasRMSprop, keras_clip_by_norm_)"),
              "native": Variant("native", "keras", "native", "Keras optimizer vs torch "
                                "SGD/RMSprop with the same numbers and clip_grad_norm_")},
    candidate_side=lambda fn: (lambda c, inp: _torch_steps(c, inp, lambda ps: fn(
        ps, optimizer=c.optimizer, momentum=c.momentum, rho=RHO, epsilon=EPSILON),
        lambda ps: None if not c.clipnorm else fn.clip(ps, c.clipnorm))),
    candidate_doc="fn(params, optimizer=, momentum=, rho=, epsilon=) -> torch optimizer "
                  "reproducing the Keras setting (its lr is set each step); fn.clip(params, "
                  "clipnorm) clips as Keras's clipnorm",
    outputs=("w{t}", "b{t}")))
