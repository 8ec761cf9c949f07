"""A Keras model on TensorFlow against the same model on Keras's torch backend
(parity.model.keras_backends, a child process with KERAS_BACKEND=torch): a model of layers the
backends compute alike agrees; AveragePooling2D(3, 2, "same") is caught where the torch
backend pads with copies of the edge (odd total padding) and not where the padding is even,
with the registry entry from the op pair's keras_torch variant on that layer's config; Keras's
mapping of float64 to float32 off TensorFlow is reported (parity's float64 run keeps float64);
bad command lines are refused."""
import pytest

import training_models
from parity.model.keras_backends import compare_backends


def _model(layers, shape=(8, 8, 3), name="m"):
    return training_models.stacked(layers, shape, name=name)


def test_layers_both_backends_compute_alike_agree():
    model, x = _model(lambda L: [L.Conv2D(4, 3, padding="same", name="conv"),
                                 L.ReLU(name="relu"),
                                 L.DepthwiseConv2D(3, padding="same", name="dw"),
                                 L.MaxPooling2D(2, name="pool"),
                                 L.Flatten(name="flat")])
    result = compare_backends(model, x)
    assert result["verdict"]["status"] == "pass", result["verdict"]
    assert [r["layer"] for r in result["layers"]] == ["conv", "relu", "dw", "pool", "flat"]
    assert result["torch_backend"]["keras"]


def test_an_average_pool_with_odd_same_padding_is_caught_with_its_registry_entry(tmp_path):
    """7x7 with window 3, stride 2: total padding 2, split evenly: the torch backend agrees.
    Then 4x4: total padding 1: it pads with copies of the edge and averages them in."""
    from parity.cli import main
    from parity.report import load_report

    assert main(["model", "--zoo", "avgpool-keras-torch", "--out", str(tmp_path)]) == 1
    m = load_report(tmp_path / "model-avgpool-keras-torch.json")["model"]
    rows = {r["layer"]: r for r in m["layers"]}
    assert rows["pool_even"]["verdict"] == "pass" and rows["conv"]["verdict"] == "pass"
    assert m["verdict"]["first_diverging"] == "pool_odd"
    cause = m["verdict"]["cause"]
    assert cause["op_pair"]["divergence"]["id"] == "keras-torch-avg-pool-replicate-padding"
    assert "parity.repro('avg_pool2d_same', 'keras_torch'" in cause["op_pair"]["repro"]
    assert m["verdict"]["float32"] == "fail"   # a real difference, not float64's


def test_float64_is_kept_on_the_torch_backend_for_the_reference_and_keras_s_mapping_reported():
    """Keras maps float64 to float32 on the torch backend (BatchNormalization, Dense, global
    pooling would run in float32); parity's float64 run keeps float64 and says so: the layers
    agree in both dtypes."""
    model, x = _model(lambda L: [L.BatchNormalization(name="bn"),
                                 L.GlobalAveragePooling2D(name="gap"), L.Dense(3, name="d")],
                      shape=(4, 4, 8))
    result = compare_backends(model, x)
    assert result["verdict"]["status"] == "pass", result["verdict"]
    assert result["torch_backend"]["float64"] is False
    assert "maps float64 to float32" in result["torch_backend"]["note"]


@pytest.mark.parametrize("argv, message", [
    (["--against", "keras-torch"], "needs --keras FILE"),
    (["--against", "keras-torch", "--keras", "m.keras", "--torch", "a:b"], "no --torch"),
    (["--zoo", "avgpool-keras-torch", "--train", "--keras-step", "tape"], "does not apply"),
    (["--zoo", "avgpool-keras-torch", "--train", "--optimizer", "sgd", "--beta-1", "0.8"],
     "does not apply to sgd")])
def test_bad_backend_comparisons_are_one_line_errors(argv, message, tmp_path, capsys):
    from parity.cli import main

    assert main(["model", *argv, "--out", str(tmp_path)]) == 2
    assert message in capsys.readouterr().err


def test_a_float64_rescaling_is_caught_and_its_constants_replayed():
    model, x = _model(lambda L: [L.Rescaling(1 / 255, name="rescale"),
                                 L.Conv2D(2, 3, padding="same", name="conv")])
    result = compare_backends(model, (x + 1) * 127.5)
    v = result["verdict"]
    assert v["first_diverging"] == "rescale" and v["float32"] == "pass", v
    text = v["cause"]["text"]
    assert "TensorFlow computes x * scale + offset with the constants rounded to float32 (off 0;" \
        in text and "the torch backend computes x * scale + offset with the constants as given " \
        "(off 0;" in text, text
