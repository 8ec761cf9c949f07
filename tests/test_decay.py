"""Weight decay: the exact torch translations pass; the obvious ones are caught where they differ."""
import torch

from parity.ports import optim
from parity.exec.runner import run_case

BASE = {"size": 4, "steps": 3, "learning_rate": 0.1, "strength": 1e-2, "dtype": "float64"}


def exact(params, optimizer, form, lr, momentum, strength):
    """What the port variant uses, as a user would write it."""
    if optimizer == "sgd" and form != "decoupled":
        wd = 2 * optim.keras_float(strength) if form == "keras_l2" else strength
        return torch.optim.SGD(params, lr=optim.keras_float(lr),
                               momentum=optim.keras_float(momentum), weight_decay=wd)
    if optimizer == "sgd":
        return optim.KerasSGD(params, lr=lr, momentum=momentum, weight_decay=strength)
    return optim.KerasAdam(params, lr=lr, weight_decay=strength)


def test_exact_translations_pass():
    for cfg in (dict(BASE, optimizer="sgd", form="keras_l2", momentum=0.9),
                dict(BASE, optimizer="sgd", form="decoupled", momentum=0.9),
                dict(BASE, optimizer="adam", form="decoupled", momentum=0.0)):
        assert run_case("weight_decay", "port", cfg, 3)["status"] == "pass", cfg
        assert run_case("weight_decay", "audit", cfg, 3, candidate=exact)["status"] == "pass", cfg


def test_obvious_translations_are_caught():
    same_number = lambda params, optimizer, form, lr, momentum, strength: torch.optim.SGD(
        params, lr=lr, momentum=momentum, weight_decay=strength)
    for cfg in (dict(BASE, optimizer="sgd", form="keras_l2", momentum=0.0, dtype="float32"),
                dict(BASE, optimizer="sgd", form="decoupled", momentum=0.9, dtype="float32")):
        assert run_case("weight_decay", "audit", cfg, 3, candidate=same_number)["status"] == "fail"
    torch_adamw = lambda params, optimizer, form, lr, momentum, strength: torch.optim.AdamW(
        params, lr=optim.keras_float(lr), weight_decay=optim.keras_float(strength), eps=1e-7)
    rec = run_case("weight_decay", "audit", dict(BASE, optimizer="adam", form="decoupled",
                                                 momentum=0.0), 3, candidate=torch_adamw)
    assert rec["status"] == "fail"   # epsilon before vs after the bias correction
