"""Keras 3 optimizers as torch optimizers, for the settings torch's own cannot reproduce.

* Keras ``SGD(momentum)``: ``m = momentum*m - lr*g; w += m``, which is torch's SGD. Keras's
  ``weight_decay`` is decoupled (``w -= lr*wd*w`` before the step) and torch's SGD couples it
  into the gradient: the same without momentum, different with it. ``KerasSGD`` decouples.
* Keras ``Adam``: ``w -= lr*sqrt(1-b2^t)/(1-b1^t) * m / (sqrt(v) + eps)``: epsilon is added
  before the bias correction, torch adds it after, so Keras equals torch with a step-dependent
  ``eps / sqrt(1 - b2^t)``: no constant torch setting. ``KerasAdam`` follows Keras.
* Keras rounds hyperparameters to float32 even for float64 variables: ``learning_rate`` is a
  float32 variable, and ``weight_decay``, ``momentum`` and Adam's betas (in ``beta**t``) go
  through ``ops.cast(python_float, dtype)``, which makes a float32 tensor first; ``1 - beta``
  and ``epsilon`` stay exact. A float64 model trains with ``float32(0.1) = 0.10000000149...``.
  The ports do the same (``keras_float``); Adam's ``1 - beta**t`` is computed in the
  variable's dtype, as Keras does.
* Keras ``RMSprop``: ``v = rho*v + (1-rho)*g**2; w -= lr*g / sqrt(v + eps)`` (with momentum:
  ``m = momentum*m + lr*g / sqrt(v + eps); w -= m``): epsilon inside the square root, torch's
  ``RMSprop`` adds it outside (``g / (sqrt(v) + eps)``), and its ``alpha`` defaults to 0.99
  where Keras's ``rho`` is 0.9. ``KerasRMSprop`` follows Keras, rounding as Keras does: the
  learning rate to float32, ``rho`` and ``momentum`` not (Keras multiplies by the Python floats,
  measured on a float64 variable: exact to 2e-16, float32 ``momentum`` 3e-9 off).
* Keras ``clipnorm=c`` clips each gradient by its own norm, ``g * c / max(|g|, c)``;
  ``torch.nn.utils.clip_grad_norm_(params, c)`` clips by the norm of all of them together,
  ``g * c / (|g| + 1e-6)`` where that is below 1: ``keras_clip_by_norm_`` clips as Keras does
  (Keras's ``global_clipnorm`` is the global one, without the 1e-6).
* L2 in the loss: Keras ``regularizers.L2(l)`` adds ``l*sum(w**2)`` (gradient ``2*l*w``, ``l``
  cast to float32 like the hyperparameters): torch ``SGD(weight_decay=2*keras_float(l))``; slim's ``l2_regularizer(wd)`` is ``wd*tf.nn.l2_loss(w)`` =
  ``wd*sum(w**2)/2`` (gradient ``wd*w``): torch ``SGD(weight_decay=wd)``.
"""
from __future__ import annotations

import numpy as np
import torch

__all__ = ["KerasSGD", "KerasAdam", "KerasRMSprop", "keras_clip_by_norm_", "keras_float"]


def keras_float(value):
    """What a Keras optimizer makes of a Python-float hyperparameter: a float32 rounding.

    >>> keras_float(0.1)
    0.10000000149011612
    """
    return None if value is None else float(np.float32(value))


class KerasSGD(torch.optim.Optimizer):
    """Keras ``SGD(learning_rate, momentum, nesterov, weight_decay)`` (decoupled weight decay;
    the learning rate inside the momentum buffer: ``m = momentum*m - lr*g``, so a learning rate
    changed between steps, a schedule's, weighs the new gradients only, as in Keras)."""

    def __init__(self, params, lr=0.01, momentum=0.0, weight_decay=None, nesterov=False):
        super().__init__(params, dict(lr=keras_float(lr), momentum=keras_float(momentum),
                                      weight_decay=keras_float(weight_decay),
                                      nesterov=nesterov))

    @torch.no_grad()
    def step(self):
        for group in self.param_groups:
            for p in group["params"]:
                if group["weight_decay"]:
                    p.sub_(p * group["weight_decay"] * group["lr"])
                if group["momentum"]:
                    m = self.state[p].setdefault("m", torch.zeros_like(p))
                    m.mul_(group["momentum"]).sub_(p.grad * group["lr"])
                    if group["nesterov"]:
                        p.add_(m * group["momentum"] - p.grad * group["lr"])
                    else:
                        p.add_(m)
                else:
                    p.sub_(p.grad * group["lr"])


class KerasAdam(torch.optim.Optimizer):
    """Keras ``Adam``/``AdamW(learning_rate, beta_1, beta_2, epsilon, weight_decay)``."""

    def __init__(self, params, lr=0.001, beta_1=0.9, beta_2=0.999, epsilon=1e-7,
                 weight_decay=None):
        super().__init__(params, dict(lr=keras_float(lr), beta_1=beta_1, beta_2=beta_2,
                                      epsilon=epsilon, weight_decay=keras_float(weight_decay)))

    @torch.no_grad()
    def step(self):
        for group in self.param_groups:
            b1, b2, lr = group["beta_1"], group["beta_2"], group["lr"]
            for p in group["params"]:
                state = self.state[p]
                if not state:
                    state.update(t=0, m=torch.zeros_like(p), v=torch.zeros_like(p))
                if group["weight_decay"]:
                    p.sub_(p * group["weight_decay"] * lr)
                state["t"] += 1
                t = torch.tensor(float(state["t"]), dtype=p.dtype)
                one = torch.ones((), dtype=p.dtype)  # Keras computes these in the variable dtype
                b1t = torch.tensor(keras_float(b1), dtype=p.dtype) ** t
                b2t = torch.tensor(keras_float(b2), dtype=p.dtype) ** t
                alpha = lr * torch.sqrt(one - b2t) / (one - b1t)
                state["m"].add_((p.grad - state["m"]) * (1 - b1))
                state["v"].add_((p.grad * p.grad - state["v"]) * (1 - b2))
                p.sub_(state["m"] * alpha / (state["v"].sqrt() + group["epsilon"]))


class KerasRMSprop(torch.optim.Optimizer):
    """Keras ``RMSprop(learning_rate, rho, momentum, epsilon)`` (not centered)."""

    def __init__(self, params, lr=0.001, rho=0.9, momentum=0.0, epsilon=1e-7):
        super().__init__(params, dict(lr=keras_float(lr), rho=rho, momentum=momentum,
                                      epsilon=epsilon))

    @torch.no_grad()
    def step(self):
        for group in self.param_groups:
            rho, lr, momentum = group["rho"], group["lr"], group["momentum"]
            for p in group["params"]:
                state = self.state[p]
                if not state:
                    state.update(v=torch.zeros_like(p), m=torch.zeros_like(p))
                state["v"].copy_(rho * state["v"] + (1 - rho) * p.grad * p.grad)
                increment = lr * p.grad / torch.sqrt(state["v"] + group["epsilon"])
                if momentum:
                    state["m"].copy_(momentum * state["m"] + increment)
                    p.sub_(state["m"])
                else:
                    p.sub_(increment)


@torch.no_grad()
def keras_clip_by_norm_(params, clipnorm: float) -> None:
    """Each parameter's gradient clipped by its own norm as Keras's ``clipnorm`` does."""
    for p in params:
        if p.grad is None:
            continue
        norm = torch.sqrt(torch.sum(p.grad * p.grad))
        p.grad.copy_(p.grad * clipnorm / torch.clamp(norm, min=clipnorm))
