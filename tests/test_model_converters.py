"""The conversion pipelines for real (make converters-check; skipped where their libraries are
not installed: they need an environment of their own, see parity.model.converters).

Keras -> tf2onnx -> onnx2torch: the converted module takes NHWC input, its BatchNormalization is
x * scale + shift and its Dense MatMul + Add with constants tf2onnx folded in float32; it is
matched and compared with no mapping, and an edit that makes the convs' SAME padding symmetric
is caught at the first conv with its mechanism. torch -> nobuco -> Keras 2: the file nobuco
writes is rebuilt in Keras 3 and agrees with the torch module it came from."""
import os

import pytest

pytest.importorskip("onnx2torch")   # imports torchvision, before TensorFlow (see backends.tf)
pytest.importorskip("tf2onnx")

from parity.model import zoo  # noqa: E402


def _rows(result):
    return {r["layer"]: r for r in result["layers"]}


def test_keras_through_tf2onnx_and_onnx2torch_passes_with_every_layer_compared():
    result = zoo.run("tf2onnx-onnx2torch")
    rows = _rows(result)
    assert result["verdict"]["status"] == "pass", result["verdict"]
    assert result["layers_compared"] == result["layers_total"] and result["not_compared"] == []
    assert result["input_layout"] == "nhwc" and result["carry_direction"] == "none"
    assert [t.rsplit("/", 1)[-1] for t in rows["bn1"]["torch"]] == ["mul_1", "add_1"]
    assert "folded in float64" in rows["bn1"]["weights_bound"]
    assert [t.rsplit("/", 1)[-1] for t in rows["d"]["torch"]] == ["MatMul", "BiasAdd"]
    assert result["carry"]["torch_unmatched"] == [] and result["carry"]["keras_unmatched"] == []


def test_a_conversion_with_symmetric_same_padding_is_caught_at_the_first_conv():
    v = zoo.run("tf2onnx-onnx2torch-symmetric")["verdict"]
    assert v["status"] == "fail" and v["first_diverging"] == "c1"
    assert v["cause"]["op_pair"]["divergence"]["id"] == "torch-symmetric-padding-k-over-2"


@pytest.mark.skipif(not os.environ.get("PARITY_NOBUCO_PYTHON"),
                    reason="nobuco runs in its own interpreter: PARITY_NOBUCO_PYTHON")
def test_torch_through_nobuco_passes_against_the_torch_module_it_came_from():
    result = zoo.run("nobuco")
    rows = _rows(result)
    assert result["verdict"]["status"] == "pass", result["verdict"]
    assert result["keras_source"].startswith("tf_keras ") and "rebuilt" in result["keras_source"]
    assert rows["tf.clip_by_value"]["type"] == "ReLU" and rows["tf.clip_by_value"]["torch"] == ["6"]
    assert "following tf.__operators__.getitem" in rows["conv2d_transpose"]["compared"]
    assert result["carry"]["problems"] == [] and result["carry"]["torch_unmatched"] == []


def test_a_flatten_converted_channels_last_passes_with_keras_weights_carried_in():
    """tf2onnx transposes back to NHWC before its Reshape: the Dense rows stay in Keras's
    order when Keras's weights are carried into the converted module (the default for a
    user's --keras/--torch pair), and with the converter's own weights."""
    import numpy as np

    from parity.backends import tf as B
    from parity.model import compare, converters
    from parity.model.weights import randomize

    B.keras().utils.set_random_seed(0)
    model = converters.keras_cnn("flatten")
    x = np.random.default_rng(0).uniform(-1, 1, (2, *converters.INPUT_SHAPE)).astype(np.float32)
    how = randomize(model, x, 0)
    for carry in (True, False):
        module = converters.onnx_to_torch(converters.to_onnx(model))
        result = compare(model, module, inputs=x, weights=how, carry_weights=carry,
                         input_layout="nhwc")
        assert result["verdict"]["status"] == "pass", (carry, result["verdict"])
        assert _rows(result)["d"]["isolated"]["float64"]["bound_ratio"] < 1
