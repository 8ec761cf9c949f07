"""optimizer_step: the exact torch translations pass; torch's own optimizers and clip given the
same numbers are caught where they differ, each explained by its registry entry; an audited
translation written another way passes and a wrong one is caught."""
import pytest
import torch

from parity.exec.runner import run_case
from parity.ports import optim
from parity.spec.divergences import Registry

BASE = {"size": 4, "steps": 3, "learning_rate": 0.1, "clipnorm": 0.0, "momentum": 0.0,
        "schedule": "constant"}


@pytest.mark.parametrize("cfg", [
    dict(BASE, optimizer="sgd", momentum=0.9, schedule="decay", dtype="float64"),
    dict(BASE, optimizer="nesterov", momentum=0.9, schedule="decay", dtype="float32"),
    dict(BASE, optimizer="rmsprop", momentum=0.9, clipnorm=1.0, dtype="float64"),
    dict(BASE, optimizer="sgd", clipnorm=1.0, size=1, dtype="float32")])
def test_the_exact_translations_pass(cfg):
    assert run_case("optimizer_step", "port", cfg, 3)["status"] == "pass"


@pytest.mark.parametrize("cfg, entry", [
    (dict(BASE, optimizer="rmsprop", dtype="float32"), "keras-rmsprop-epsilon-inside-sqrt"),
    (dict(BASE, optimizer="sgd", momentum=0.9, schedule="decay", dtype="float32"),
     "keras-momentum-holds-learning-rate"),
    (dict(BASE, optimizer="sgd", clipnorm=1.0, dtype="float32"), "keras-clipnorm-per-variable"),
    (dict(BASE, optimizer="sgd", dtype="float64"), "keras-hyperparameters-float32")])
def test_torch_given_the_same_numbers_is_caught_and_explained(cfg, entry):
    rec = run_case("optimizer_step", "native", cfg, 3, divergences=Registry.load())
    assert rec["status"] == "known_divergence" and rec["divergence"] == entry


def test_a_schedule_without_momentum_or_with_one_step_needs_no_translation():
    for cfg in (dict(BASE, optimizer="sgd", schedule="decay", dtype="float32"),
                dict(BASE, optimizer="sgd", momentum=0.9, schedule="decay", steps=1,
                     dtype="float32")):
        assert run_case("optimizer_step", "native", cfg, 3)["status"] == "pass", cfg


def _functional_keras_sgd(params, optimizer, momentum, rho, epsilon):
    """Keras's SGD written as a closure over torch.optim.Optimizer's state: the velocity holds
    the step (lr inside), the weight takes it, nesterov looks ahead: another hand than ours."""
    class VelocitySGD(torch.optim.Optimizer):
        def __init__(self, ps):
            super().__init__(ps, {"lr": 0.1})

        @torch.no_grad()
        def step(self):
            mu = optim.keras_float(momentum)
            for group in self.param_groups:
                for p in group["params"]:
                    v = self.state[p].get("velocity", torch.zeros_like(p))
                    v = mu * v - group["lr"] * p.grad
                    self.state[p]["velocity"] = v
                    p.add_(mu * v - group["lr"] * p.grad if optimizer == "nesterov" else v)
    return VelocitySGD(params)


_functional_keras_sgd.clip = lambda ps, c: [p.grad.mul_(c / max(float(p.grad.norm()), c))
                                            for p in ps]


def test_an_audited_translation_written_another_way_passes_and_a_wrong_one_is_caught():
    cfg = dict(BASE, optimizer="nesterov", momentum=0.9, schedule="decay", clipnorm=1.0,
               dtype="float32")
    assert run_case("optimizer_step", "audit", cfg, 3,
                    candidate=_functional_keras_sgd)["status"] == "pass"

    def torch_sgd(params, optimizer, momentum, rho, epsilon):
        return torch.optim.SGD(params, lr=0.1, momentum=momentum, nesterov=True)
    torch_sgd.clip = lambda ps, c: torch.nn.utils.clip_grad_norm_(ps, c)
    assert run_case("optimizer_step", "audit", cfg, 3, candidate=torch_sgd)["status"] == "fail"
