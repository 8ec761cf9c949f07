"""parity model --against keras-torch --train: the same Keras model trained (train_on_batch) on
TensorFlow and on Keras's torch backend, quantity by quantity. Real Keras behaviour is what is
caught: the torch backend's E[x^2] - E[x]^2 batch variance, and TF's float32 Adam betas; a model
both backends train alike passes."""

import training_models
from parity.model.keras_backends import compare_backends


def _model(layers, shape=(6, 6, 3)):
    return training_models.stacked(layers, shape, batch=4, seed=3)


def _net(L):
    return [L.Conv2D(4, 3, padding="same", name="conv"), L.BatchNormalization(name="bn"),
            L.ReLU(name="relu"), L.GlobalAveragePooling2D(name="gap"), L.Dense(2, name="out")]


def test_a_model_both_backends_train_alike_passes_every_quantity():
    model, x = _model(_net)
    t = compare_backends(model, x, train={"optimizer": "sgd", "steps": 2})["training"]
    assert t["verdict"]["status"] == "pass", t["verdict"]
    kinds = {q["kind"] for q in t["quantities"]}
    assert kinds == {"forward", "loss", "gradient", "statistics", "update"}
    assert len(t["history"]) == 2 and all(h["status"] == "pass" for h in t["history"])


def test_batch_norm_on_inputs_far_from_zero_is_caught_with_the_moments_mechanism():
    model, x = _model(lambda L: [L.BatchNormalization(name="bn"), L.Flatten(name="flat"),
                                 L.Dense(2, name="out")])
    t = compare_backends(model, x, train={"optimizer": "sgd"},
                         dtypes=("float32",))["training"]
    assert t["verdict"]["status"] == "pass"   # near zero: E[x^2] - E[x]^2 is fine
    far = compare_backends(model, x, train={"optimizer": "sgd", "inputs": x + 300.0})
    first = far["training"]["verdict"]["first_by_stage"]["forward"]
    assert first["layer"] == "bn", first
    assert "keras-torch-moments-cancellation" in first["cause"]["registry"], first["cause"]


def test_adam_in_float64_names_tf_s_float32_betas_by_replaying_the_update():
    model, x = _model(_net)
    t = compare_backends(model, x, train={"optimizer": "adam"})["training"]
    first = t["verdict"]["first_diverging"]
    assert first["kind"] == "update", t["verdict"]
    cause = t["verdict"]["cause"]
    assert cause["registry"] == ["keras-hyperparameters-float32"], cause
    assert "TensorFlow's float64 update is adam's with the hyperparameters rounded" in \
        cause["text"] and "torch backend's float64 update is adam's with the hyperparameters " \
        "as given" in cause["text"]
