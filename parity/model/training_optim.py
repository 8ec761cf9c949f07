"""The optimizers of a training step: Keras's, given with Keras's hyperparameters, their
translation to torch's meaning, a user's torch optimizer read from a spec, and what a torch
optimizer gets wrong against the Keras one (checked, never fixed: the step runs it as given).

Translations (``parity.ports.optim``): ``sgd``, Keras's ``SGD(learning_rate, momentum,
nesterov)``: ``torch.optim.SGD(lr, momentum, nesterov)``, the same update while the learning
rate is constant; ``adam`` and ``adamw``: ``KerasAdam`` (Keras adds epsilon before the bias
correction, which no constant ``eps`` of ``torch.optim.Adam`` does; AdamW's decoupled decay is
torch's); ``rmsprop``: ``KerasRMSprop`` (Keras adds epsilon inside the square root, torch
outside it). Keras rounds the hyperparameters to float32 (``keras_float``), for float64
weights too; so do the translations.
"""
from __future__ import annotations

import math

from parity.model.errors import ModelError

OPTIMIZERS = ("sgd", "adam", "adamw", "rmsprop")
HYPERPARAMETERS = {
    "sgd": ("learning_rate", "momentum", "nesterov"),
    "adam": ("learning_rate", "beta_1", "beta_2", "epsilon"),
    "adamw": ("learning_rate", "weight_decay", "beta_1", "beta_2", "epsilon"),
    "rmsprop": ("learning_rate", "rho", "momentum", "epsilon"),
}
KERAS_DEFAULTS = {"learning_rate": 0.01, "momentum": 0.0, "nesterov": False, "beta_1": 0.9,
                  "beta_2": 0.999, "epsilon": 1e-7, "rho": 0.9, "weight_decay": 0.004}
"""Keras's own defaults (``learning_rate`` aside, whose default differs by optimizer)."""


def hyperparameters(optimizer: str, given: dict) -> dict:
    """The Keras hyperparameters of ``optimizer``: those given, Keras's defaults for the rest;
    a bad name or value is refused."""
    if optimizer not in OPTIMIZERS:
        raise ModelError(f"optimizer must be one of {', '.join(OPTIMIZERS)}, got {optimizer!r}")
    stray = [k for k, v in given.items() if k in KERAS_DEFAULTS and v is not None and
             k not in HYPERPARAMETERS[optimizer]]
    if stray:
        raise ModelError(f"{', '.join(stray)} does not apply to {optimizer} (it takes "
                         f"{', '.join(HYPERPARAMETERS[optimizer])})")
    hyper = {k: KERAS_DEFAULTS[k] if given.get(k) is None else given[k]
             for k in HYPERPARAMETERS[optimizer]}
    if not hyper["learning_rate"] > 0:
        raise ModelError(f"learning_rate must be positive, got {hyper['learning_rate']:g}")
    return hyper


def keras_optimizer(optimizer: str, hyper: dict, keras=None):
    """Keras's ``optimizer`` with ``hyper``, of ``keras`` (default Keras on TensorFlow)."""
    if keras is None:
        from parity.backends import tf as B
        keras = B.keras()
    o = keras.optimizers
    return {"sgd": o.SGD, "adam": o.Adam, "adamw": o.AdamW, "rmsprop": o.RMSprop}[optimizer](
        **hyper)


def translated(optimizer: str, hyper: dict):
    """Keras's optimizer in torch's meaning: a factory of ``params``."""
    import torch

    from parity.ports.optim import KerasAdam, KerasRMSprop, keras_float

    h = hyper
    if optimizer == "sgd":
        return lambda p: torch.optim.SGD(p, lr=keras_float(h["learning_rate"]),
                                         momentum=keras_float(h["momentum"]),
                                         nesterov=bool(h["nesterov"]))
    if optimizer in ("adam", "adamw"):
        return lambda p: KerasAdam(p, lr=h["learning_rate"], beta_1=h["beta_1"],
                                   beta_2=h["beta_2"], epsilon=h["epsilon"],
                                   weight_decay=h.get("weight_decay"))
    return lambda p: KerasRMSprop(p, lr=h["learning_rate"], rho=h["rho"],
                                  momentum=h["momentum"], epsilon=h["epsilon"])


def from_spec(spec: str, learning_rate: float):
    """A user's torch optimizer from ``CLASS[:key=value,...]`` (``torch.optim.Adam:eps=1e-8``,
    ``parity.ports.optim.KerasAdam``, a class of ``torch.optim`` by its bare name): a factory
    of ``params``, ``lr`` the step's learning rate where the spec gives none, every other
    setting the class's own default. A tuple value is written ``betas=0.9/0.999``."""
    import importlib

    import torch

    path, _, args = spec.partition(":")
    module, _, name = path.rpartition(".")
    try:
        cls = getattr(importlib.import_module(module), name) if module else \
            getattr(torch.optim, name)
    except (ImportError, AttributeError, ValueError):
        raise ModelError(f"--torch-optimizer: no optimizer class {path!r}") from None
    if not (isinstance(cls, type) and issubclass(cls, torch.optim.Optimizer)):
        raise ModelError(f"--torch-optimizer: {path!r} is not a torch.optim.Optimizer")
    kwargs = {}
    for item in filter(None, (a.strip() for a in args.split(","))):
        key, eq, value = item.partition("=")
        if not eq:
            raise ModelError(f"--torch-optimizer: {item!r} is not key=value")
        kwargs[key.strip()] = _value(value.strip())
    kwargs.setdefault("lr", learning_rate)
    try:
        cls([torch.nn.Parameter(torch.zeros(1))], **kwargs)
    except (TypeError, ValueError) as e:
        raise ModelError(f"--torch-optimizer {spec!r}: {e}") from None
    factory = lambda params: cls(params, **kwargs)  # noqa: E731
    factory.spec = spec
    return factory


def _value(text: str):
    if "/" in text:
        return tuple(_value(t) for t in text.split("/"))
    if text in ("True", "true", "False", "false"):
        return text.lower() == "true"
    try:
        return int(text) if text.lstrip("-").isdigit() else float(text)
    except ValueError:
        return text


def _differs(a, b) -> bool:
    return a is None or b is None or not math.isclose(float(a), float(b), rel_tol=1e-6)


def check(torch_optimizer, optimizer: str, hyper: dict) -> list[str]:
    """What the torch optimizer (an instance) does that Keras's ``optimizer`` with ``hyper``
    does not: its class and each setting of its first parameter group, with the registry
    entry of a mechanism no setting can fix."""
    from parity.ports.optim import KerasAdam, KerasRMSprop, KerasSGD, keras_float

    g, cls = torch_optimizer.param_groups[0], type(torch_optimizer)
    name = f"{cls.__module__}.{cls.__name__}"
    if name.startswith("torch.optim."):
        name = f"torch.optim.{cls.__name__}"
    found = []

    def setting(key, have, want, keras_key):
        if isinstance(want, bool) or isinstance(have, bool):
            if bool(have) != bool(want):
                found.append(f"{key}={have} (Keras {keras_key}={want})")
        elif _differs(have, want):
            found.append(f"{key}={have:g} (Keras {keras_key}={want:g})" if have is not None
                         else f"no {key} (Keras {keras_key}={want:g})")
    lr = g.get("lr")
    setting("lr", lr, hyper["learning_rate"], "learning_rate")
    if lr is not None and not found and float(lr) != keras_float(hyper["learning_rate"]):
        found.append(f"lr={lr!r}, where Keras holds learning_rate as float32 "
                     f"({keras_float(hyper['learning_rate'])!r}) "
                     "(registry keras-hyperparameters-float32)")
    if cls in (KerasAdam, KerasRMSprop, KerasSGD):   # the ports: Keras's names
        for key, value in g.items():
            if key in hyper and key != "learning_rate" and value is not None:
                setting(key, value, hyper[key], key)
        want = {"adam": KerasAdam, "adamw": KerasAdam, "rmsprop": KerasRMSprop,
                "sgd": KerasSGD}[optimizer]
        if cls is not want:
            found.append(f"{name} is not Keras's {optimizer}")
        return found
    import torch

    if optimizer == "sgd":
        if cls is not torch.optim.SGD:
            found.append(f"{name} is not an SGD")
            return found
        setting("momentum", g["momentum"], hyper["momentum"], "momentum")
        setting("nesterov", g["nesterov"], hyper["nesterov"], "nesterov")
        if g.get("dampening"):
            found.append(f"dampening={g['dampening']:g} (Keras has none)")
        if g.get("weight_decay"):
            found.append(f"weight_decay={g['weight_decay']:g} (Keras SGD has none here)")
    elif optimizer in ("adam", "adamw"):
        want = torch.optim.Adam if optimizer == "adam" else torch.optim.AdamW
        if cls not in (torch.optim.Adam, torch.optim.AdamW):
            found.append(f"{name} is not an Adam")
            return found
        b1, b2 = g["betas"]
        setting("betas[0]", b1, hyper["beta_1"], "beta_1")
        setting("betas[1]", b2, hyper["beta_2"], "beta_2")
        setting("eps", g["eps"], hyper["epsilon"], "epsilon")
        decay = hyper.get("weight_decay", 0.0)
        if cls is not want and optimizer == "adam" and g.get("weight_decay"):
            found.append(f"{name} decays the weights (Keras Adam does not)")
        elif optimizer == "adamw" and cls is torch.optim.Adam and g.get("weight_decay"):
            found.append("torch.optim.Adam's weight_decay is L2 in the gradient, not AdamW's "
                         "decoupled decay")
        else:
            setting("weight_decay", g.get("weight_decay", 0.0), decay, "weight_decay")
        found.append(f"{name} adds eps after the bias correction, Keras before it "
                     "(registry keras-adam-epsilon-before-bias-correction)")
    elif optimizer == "rmsprop":
        if cls is not torch.optim.RMSprop:
            found.append(f"{name} is not an RMSprop")
            return found
        setting("alpha", g["alpha"], hyper["rho"], "rho")
        setting("eps", g["eps"], hyper["epsilon"], "epsilon")
        setting("momentum", g["momentum"], hyper["momentum"], "momentum")
        if g.get("centered"):
            found.append("centered=True (Keras centered=False)")
        found.append("torch.optim.RMSprop adds eps outside the square root, Keras inside it "
                     "(registry keras-rmsprop-epsilon-inside-sqrt)")
    return found
