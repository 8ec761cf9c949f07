"""parity.model: whole-model comparison catches the right layer for the right reason."""
import json

import numpy as np
import pytest

from parity.cli import main
from parity.model import ModelError, compare
from parity.model.weights import randomize
from parity.model.zoo_twins import INPUT, keras_cnn, naive_twin, ports_twin
from parity.report.io import load_report


@pytest.fixture(scope="module")
def cnn():
    from parity.backends import tf as B

    B.keras().utils.set_random_seed(0)
    model = keras_cnn()
    x = np.random.default_rng(0).uniform(-1, 1, (2, *INPUT)).astype(np.float32)
    return model, x, randomize(model, x)


def by_layer(result):
    return {r["layer"]: r for r in result["layers"]}


def test_the_ports_twin_agrees_at_every_layer(cnn):
    model, x, how = cnn
    result = compare(model, ports_twin(), inputs=x, weights=how)
    assert result["verdict"]["status"] == "pass" and result["verdict"]["first_diverging"] is None
    assert result["layers_compared"] == 12 and result["weights"] == how
    assert all(r["verdict"] == "pass" for r in result["layers"])
    assert 0 < result["verdict"]["worst_isolated_ratio"] < 1
    assert 0 < result["verdict"]["worst_propagated_ratio"] < 1


def test_the_naive_twin_is_caught_at_the_right_layers_with_the_right_mechanisms(cnn):
    model, x, _ = cnn
    result = compare(model, naive_twin(), inputs=x)
    rows, v = by_layer(result), result["verdict"]
    assert v["status"] == "fail" and v["first_diverging"] == "bn1"
    assert v["cause"]["op_pair"]["divergence"]["id"] == "torch-batchnorm-defaults-copied"
    assert "eps 1e-05 (Keras epsilon 0.001)" in v["cause"]["text"]
    assert rows["conv1"]["verdict"] == "pass"  # k=3, stride 1: padding=1 is SAME there
    assert rows["conv2"]["cause"]["op_pair"]["divergence"]["id"] == \
        "torch-symmetric-padding-k-over-2"
    assert rows["pool3"]["cause"]["op_pair"]["divergence"]["id"] == \
        "torch-symmetric-pool-padding-k-over-2"
    assert rows["dw3"]["isolated"]["float32"]["bound_ratio"] < 1  # fed Keras's input: agrees
    assert rows["dw3"]["verdict"] == "propagated"
    assert "parity.repro('batch_norm', 'defaults'" in v["cause"]["op_pair"]["repro"]


def test_a_torch_side_whose_library_is_not_installed_is_left_out_of_the_cause(cnn, monkeypatch):
    """conv2d_same's efficientnet_pytorch side needs the thirdparty extra: where it is missing,
    the cause is still found among the other sides (it used to end the comparison)."""
    from parity.exec import runner
    from parity.backends import BackendUnavailable

    real, refused = runner._call, []

    def without_thirdparty(fn, cfg, inp):
        if "thirdparty" in getattr(fn, "__module__", ""):
            refused.append(fn.__name__)
            raise BackendUnavailable("efficientnet_pytorch is not importable")
        return real(fn, cfg, inp)
    monkeypatch.setattr(runner, "_call", without_thirdparty)
    model, x, _ = cnn
    rows = by_layer(compare(model, naive_twin(), inputs=x))
    assert refused
    assert rows["conv2"]["cause"]["op_pair"]["divergence"]["id"] == \
        "torch-symmetric-padding-k-over-2"


def _carried(model, x):
    twin = ports_twin()
    compare(model, twin, inputs=x, dtypes=("float32",), explain=False)  # carries the weights
    return twin


def test_a_transposed_kernel_is_caught_at_its_layer(cnn):
    model, x, _ = cnn
    twin = _carried(model, x)
    w = twin[3].weight.data
    twin[3].weight.data = w.transpose(2, 3).contiguous()  # (kh, kw) swapped
    result = compare(model, twin, inputs=x, carry_weights=False)
    v = result["verdict"]
    assert v["first_diverging"] == "conv2"
    assert "spatial axes are swapped" in v["cause"]["text"]


def test_a_flatten_order_mistake_is_caught_at_the_dense_layer(cnn):
    model, x, _ = cnn
    twin = _carried(model, x)
    twin[12].weight.data[:] = twin[12].weight.data.new_tensor(
        model.get_layer("logits").kernel.numpy().T)  # rows in Keras's (h, w, c) order
    result = compare(model, twin, inputs=x, carry_weights=False)
    v = result["verdict"]
    assert v["first_diverging"] == "logits"
    assert "flatten-order mistake" in v["cause"]["text"]


def test_a_wrong_fused_activation_is_not_excused():
    """A deliberately wrong layer the bound must catch: ReLU6 where Keras has ReLU."""
    import torch.nn as nn

    from parity.backends import tf as B

    keras = B.keras()
    model = keras.Sequential([keras.Input((4, 4, 2)), keras.layers.Conv2D(3, 1, name="c"),
                              keras.layers.Activation("relu", name="a")])
    x = np.random.default_rng(0).uniform(-20, 20, (1, 4, 4, 2)).astype(np.float32)
    result = compare(model, nn.Sequential(nn.Conv2d(2, 3, 1), nn.Hardtanh(0, 6)), inputs=x)
    # relu vs relu6 are different functions: not mapped, so the activation is not compared,
    # and the propagated output of the model says the models differ
    assert result["output"]["float32"]["max_abs_diff"] > 1


def test_an_unmappable_model_is_one_line_and_exit_2(tmp_path, cnn, capsys):
    model, _, _ = cnn
    path = tmp_path / "cnn.keras"
    model.save(path)
    code = main(["model", "--keras", str(path), "--torch", "model_candidates:linear_first",
                 "--out", str(tmp_path)])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "\n" not in err
    assert "cannot map Keras layer 'conv1' (Conv2D" in err
    with pytest.raises(ModelError, match="cannot map Keras layer 'conv1'"):
        import model_candidates

        compare(model, model_candidates.linear_first())


def test_the_cli_writes_a_valid_report_and_page(tmp_path, capsys):
    code = main(["model", "--zoo", "naive-twin", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 1 and "first diverging layer: bn1" in out
    report = load_report(tmp_path / "model-naive-twin.json")
    assert report["run"]["command"] == "model" and report["model"]["layers_compared"] == 12
    page = (tmp_path / "model-naive-twin.html").read_text()
    assert "bn1" in page and "torch-batchnorm-defaults-copied" in page and "<svg" in page
    assert main(["model", "--zoo", "nope", "--out", str(tmp_path)]) == 2


def test_a_user_mapping_overrides_the_automatic_one(cnn):
    model, x, _ = cnn
    twin = ports_twin()
    with pytest.raises(ModelError, match="not called in the forward pass"):
        compare(model, twin, inputs=x, mapping={"conv1": "99"})
    result = compare(model, twin, inputs=x, mapping={"conv1": "0"}, dtypes=("float32",),
                     explain=False)
    assert by_layer(result)["conv1"]["torch"] == ["0"]
    json.dumps(result)  # JSON-safe


def test_a_converter_pair_without_its_environment_is_bad_input_saying_how_to_get_it(
        tmp_path, capsys, monkeypatch):
    import importlib.util

    from parity.cli import main

    monkeypatch.delenv("PARITY_NOBUCO_PYTHON", raising=False)
    assert main(["model", "--zoo", "nobuco", "--out", str(tmp_path)]) == 2
    assert "PARITY_NOBUCO_PYTHON" in capsys.readouterr().err
    if importlib.util.find_spec("onnx2torch") is None:
        assert main(["model", "--zoo", "tf2onnx-onnx2torch", "--out", str(tmp_path)]) == 2
        assert "pip install 'parity[converters]'" in capsys.readouterr().err


def test_a_transposed_conv_ported_with_the_textbook_mapping_is_named():
    """Conv2DTranspose(3, strides=2, "same") on a 7x7 map against ConvTranspose2d(padding=1,
    output_padding=1), the textbook mapping of Keras's arguments: the output has TF's shape
    and is shifted by a pixel; the cause runs conv_transpose2d's sides on the layer and names
    textbook-transpose-mapping. The exact port agrees."""
    import torch.nn as nn

    from parity.backends import tf as B
    from parity.ports.transpose import ConvTranspose2dSame

    keras = B.keras()
    keras.utils.set_random_seed(5)
    inp = keras.Input((7, 7, 3))
    model = keras.Model(inp, keras.layers.Conv2DTranspose(4, 3, strides=2, padding="same",
                                                          name="up")(inp))
    x = np.random.default_rng(5).uniform(-1, 1, (2, 7, 7, 3)).astype(np.float32)
    textbook = nn.Sequential(nn.ConvTranspose2d(3, 4, 3, stride=2, padding=1, output_padding=1))
    result = compare(model, textbook, inputs=x)
    assert result["verdict"]["first_diverging"] == "up"
    assert result["verdict"]["cause"]["op_pair"]["divergence"]["id"] == \
        "textbook-transpose-mapping"
    port = nn.Sequential(ConvTranspose2dSame(3, 4, 3, stride=2))
    assert compare(model, port, inputs=x, explain=False)["verdict"]["status"] == "pass"
