"""The optimizers of a training step and its K steps (parity.model.training_optim): each
Keras optimizer's translation agrees over several steps, a correct optimizer written another
way agrees, torch's own optimizers are caught in the update with their mechanisms, a wrong
momentum shows only from the second step on (the step and the weight they part at), a user's
torch optimizer is read from a spec; ``parity model --train`` reports it all."""
import numpy as np
import pytest

from parity.model import ModelError, training
from parity.model.training_optim import check, from_spec
from parity.model.zoo_twins import ports_twin

import training_models


@pytest.fixture(scope="module")
def cnn():
    return training_models.cnn(batch_seed=5)


def _first(result):
    f = result["verdict"]["first_diverging"]
    return None if f is None else (f["kind"], f["layer"], f["weight"])


@pytest.mark.parametrize("optimizer, options", [
    ("sgd", {"momentum": 0.9, "nesterov": True}), ("adamw", {"weight_decay": 0.01}),
    ("rmsprop", {"momentum": 0.5}), ("adam", {})])
def test_each_keras_optimizer_translated_agrees_over_three_steps(cnn, optimizer, options):
    model, x, y = cnn
    result = training.step(model, ports_twin("keras"), x, y, optimizer=optimizer,
                           learning_rate=0.001, steps=3, **options)
    assert result["verdict"]["status"] == "pass", (_first(result),
                                                   result["verdict"]["parted_at_step"])
    assert [h["step"] for h in result["history"]] == [1, 2, 3]
    assert all(h["worst_weight"]["float64"]["bound_ratio"] < 1 for h in result["history"])


def _optax_style_adam(lr, b1=0.9, b2=0.999, eps=1e-7):
    """Keras's Adam written as optax writes Adam (bias-corrected moments, then the update),
    Keras's epsilon moved to where torch and optax add theirs: eps / sqrt(1 - b2^t)."""
    import torch

    from parity.ports.optim import keras_float

    class OptaxStyleAdam(torch.optim.Optimizer):
        def __init__(self, params):
            super().__init__(params, {})

        @torch.no_grad()
        def step(self):
            for p in self.param_groups[0]["params"]:
                s = self.state[p]
                if not s:
                    s.update(t=0, mu=torch.zeros_like(p), nu=torch.zeros_like(p))
                s["t"] += 1
                s["mu"].add_((p.grad - s["mu"]) * (1 - b1))
                s["nu"].add_((p.grad * p.grad - s["nu"]) * (1 - b2))
                t = torch.tensor(float(s["t"]), dtype=p.dtype)
                c1 = 1 - torch.tensor(keras_float(b1), dtype=p.dtype) ** t
                c2 = 1 - torch.tensor(keras_float(b2), dtype=p.dtype) ** t
                mu_hat, nu_hat = s["mu"] / c1, s["nu"] / c2
                p.sub_(keras_float(lr) * mu_hat / (nu_hat.sqrt() + eps / c2.sqrt()))
    return OptaxStyleAdam


def test_a_correct_adam_written_another_way_agrees(cnn):
    model, x, y = cnn
    cls = _optax_style_adam(0.001)
    result = training.step(model, ports_twin("keras"), x, y, optimizer="adam",
                           learning_rate=0.001, steps=3, torch_optimizer=cls)
    assert result["verdict"]["status"] == "pass", _first(result)
    assert any("is not an Adam" in s for s in result["optimizer_settings"])   # said, not fixed


def test_torch_rmsprop_with_keras_settings_is_caught_at_its_epsilon(cnn):
    import torch

    from parity.ports.optim import keras_float

    model, x, y = cnn
    result = training.step(model, ports_twin("keras"), x, y, optimizer="rmsprop",
                           learning_rate=0.001, torch_optimizer=lambda p: torch.optim.RMSprop(
                               p, lr=keras_float(0.001), alpha=0.9, eps=1e-7))
    assert _first(result) == ("update", "conv1", "weight")
    cause = result["verdict"]["cause"]
    assert cause["registry"] == ["keras-rmsprop-epsilon-inside-sqrt"]
    assert "alpha" not in cause["text"] and "eps=" not in cause["text"]   # settings copied


def test_a_wrong_momentum_parts_from_the_second_step_on(cnn):
    """torch SGD(momentum=0.99) against Keras's 0.9: the first step has no history and
    agrees; the weights part after step 2, which the history names."""
    import torch

    from parity.ports.optim import keras_float

    model, x, y = cnn
    lr = keras_float(0.01)   # as Keras holds it
    result = training.step(model, ports_twin("keras"), x, y, optimizer="sgd",
                           learning_rate=0.01, momentum=0.9, steps=3,
                           torch_optimizer=lambda p: torch.optim.SGD(p, lr=lr, momentum=0.99))
    assert result["verdict"]["first_diverging"] is None   # the first step agrees
    parted = result["verdict"]["parted_at_step"]
    assert parted["step"] == 2 and parted["weight"] == "weight"
    assert [h["status"] for h in result["history"]] == ["pass", "fail", "fail"]
    assert result["verdict"]["status"] == "fail"
    assert "momentum=0.99 (Keras momentum=0.9)" in result["optimizer_settings"]


def test_a_torch_optimizer_spec_is_read_and_bad_ones_refused():
    import torch

    make = from_spec("torch.optim.Adam:eps=1e-8,betas=0.9/0.99", 0.01)
    opt = make([torch.nn.Parameter(torch.zeros(2))])
    assert type(opt) is torch.optim.Adam and opt.param_groups[0]["betas"] == (0.9, 0.99)
    assert opt.param_groups[0]["lr"] == 0.01 and make.spec.startswith("torch.optim.Adam")
    assert type(from_spec("RMSprop", 0.1)([torch.nn.Parameter(torch.zeros(1))])) is \
        torch.optim.RMSprop
    for bad, message in (("torch.optim.Nope", "no optimizer class"),
                         ("torch.nn.Linear", "not a torch.optim.Optimizer"),
                         ("SGD:momentum", "is not key=value"),
                         ("SGD:colour=3", "unexpected keyword")):
        with pytest.raises(ModelError, match=message):
            from_spec(bad, 0.01)


def test_the_check_names_what_a_torch_optimizer_does_that_keras_does_not():
    import torch

    from parity.ports.optim import KerasAdam

    p = [torch.nn.Parameter(torch.zeros(1))]
    hyper = {"learning_rate": 0.01, "beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7}
    assert check(KerasAdam(p, lr=0.01), "adam", hyper) == []
    found = check(torch.optim.Adam(p, lr=0.01), "adam", hyper)
    assert "eps=1e-08 (Keras epsilon=1e-07)" in found
    assert "keras-adam-epsilon-before-bias-correction" in found[-1]
    sgd = {"learning_rate": 0.01, "momentum": 0.0, "nesterov": False}
    assert check(torch.optim.SGD(p, lr=0.02), "sgd", sgd) == \
        ["lr=0.02 (Keras learning_rate=0.01)"]
    exact = check(torch.optim.SGD(p, lr=0.01), "sgd", sgd)   # Keras's is float32(0.01)
    assert exact and "registry keras-hyperparameters-float32" in exact[0]


def test_dropout_is_made_the_identity_on_both_sides():
    from parity.backends import tf as B
    from parity.model.twin import torch_twin

    keras = B.keras()
    keras.utils.set_random_seed(3)
    inp = keras.Input((6,))
    h = keras.layers.Dropout(0.5, name="drop")(keras.layers.Dense(8, name="d1")(inp))
    model = keras.Model(inp, keras.layers.Dense(3, name="d2")(h))
    x = np.random.default_rng(3).uniform(-1, 1, (5, 6)).astype(np.float32)
    result = training.step(model, torch_twin(model), x, np.zeros((5, 3), np.float32), steps=2)
    assert result["verdict"]["status"] == "pass", _first(result)
    assert result["random_layers"] == ["drop"] and result["random_torch_modules"]
    assert "identity on both sides" in result["random_layers_note"]
    assert model.get_layer("drop").rate == 0.5   # put back


def test_parity_model_train_reports_the_steps_their_causes_and_exit_codes(tmp_path, capsys):
    from parity.cli import main
    from parity.report import load_report

    assert main(["model", "--zoo", "twin", "--train", "--steps", "2", "--out",
                 str(tmp_path)]) == 0
    report = load_report(tmp_path / "model-twin.json")   # valid against the schema
    t = report["model"]["training"]
    assert t["verdict"]["status"] == "pass" and t["steps"] == 2 and len(t["history"]) == 2
    assert t["optimizer"] == "sgd" and t["torch_optimizer"] == "translated"
    assert "training verdict: pass" in capsys.readouterr().out
    page = (tmp_path / "model-twin.html").read_text()
    assert 'id="training-verdict"' in page and 'id="training-layers"' in page
    assert "step (1 to 2)" in page   # the drift plot
    assert page.count("<td>update</td><td>update</td>") == sum(q["kind"] == "update"
                                                               for q in t["quantities"])

    assert main(["model", "--zoo", "naive-twin", "--train", "--optimizer", "adam", "--out",
                 str(tmp_path)]) == 1
    t = load_report(tmp_path / "model-naive-twin.json")["model"]["training"]
    stages = t["verdict"]["first_by_stage"]
    assert (stages["forward"]["layer"], "eps 1e-05 (Keras epsilon 0.001)" in
            stages["forward"]["cause"]["text"]) == ("bn1", True)
    assert stages["statistics"]["layer"] == "bn1"
    assert "torch momentum 0.1" in stages["statistics"]["cause"]["text"]
    assert "eps=1e-08 (Keras epsilon=1e-07)" in stages["update"]["cause"]["text"]
    assert "keras-adam-epsilon-before-bias-correction" in stages["update"]["cause"]["registry"]
    out = capsys.readouterr().out
    assert "first in the statistics: statistics bn1" in out

    for bad in (["--learning-rate", "0"], ["--steps", "0"], ["--torch-optimizer", "Nope"],
                ["--optimizer", "sgd", "--rho", "0.9"]):
        assert main(["model", "--zoo", "twin", "--train", *bad, "--out", str(tmp_path)]) == 2


def test_keras_own_train_on_batch_steps_agree_too_and_leave_the_model_uncompiled(cnn):
    """``keras_step="train_on_batch"``: Keras's compiled train step on a clone (the loss in the
    model's dtype: a Keras loss computes in float32 unless told); torch's BatchNorm2d is still
    caught in the statistics."""
    model, x, y = cnn
    result = training.step(model, ports_twin("keras"), x, y, optimizer="adam",
                           learning_rate=0.001, steps=2, keras_step="train_on_batch")
    assert result["verdict"]["status"] == "pass", _first(result)
    assert result["keras_step"] == "train_on_batch" and getattr(model, "optimizer", None) is None
    assert _first(training.step(model, ports_twin(), x, y, keras_step="train_on_batch")) == \
        ("statistics", "bn1", "running_var")
    with pytest.raises(ModelError, match="keras_step must be one of tape, train_on_batch"):
        training.step(model, ports_twin(), x, y, keras_step="fit")


def test_a_training_that_diverges_is_compared_up_to_the_step_before(cnn):
    import json

    model, x, y = cnn
    result = training.step(model, ports_twin("keras"), x, y, learning_rate=50.0, momentum=0.9,
                           steps=8)
    late = result["verdict"]["not_finite_at_step"]
    assert late is not None and late > 1
    assert [h["status"] for h in result["history"]] == ["pass"] * (late - 1) + ["not_finite"]
    json.dumps(result["history"], allow_nan=False)   # a report can hold it
