"""Keras 2 (tf_keras) model files, as nobuco writes them: read, rebuilt in Keras 3, checked
equal layer by layer, then compared like any Keras model."""
import json
import warnings

import numpy as np
import pytest

from parity.cli import main
from parity.model import ModelError, legacy

tf_keras = pytest.importorskip("tf_keras")


def _keras2_model():
    L = tf_keras.layers
    tf_keras.utils.set_random_seed(3)
    inp = tf_keras.Input((16, 16, 3))
    y = L.Conv2D(8, 3, padding="same", name="c1")(inp)
    y = L.BatchNormalization(name="bn")(y)
    y = L.ReLU(name="r")(y)
    y = L.DepthwiseConv2D(3, padding="same", name="dw")(y)
    y = L.Conv2DTranspose(4, 3, strides=2, padding="valid", name="up")(y)
    y = L.Cropping2D(((1, 0), (1, 0)), name="crop")(y)
    y = L.GlobalAveragePooling2D(name="gap")(y)
    model = tf_keras.Model(inp, L.Dense(3, name="d")(y))
    bn = model.get_layer("bn")   # statistics that are not the defaults
    g, b, _, _ = bn.get_weights()
    bn.set_weights([g, b, np.linspace(-0.3, 0.3, 8), np.linspace(0.5, 1.5, 8)])
    return model


@pytest.mark.parametrize("suffix", [".h5", ".keras"])
def test_a_tf_keras_file_that_keras_3_refuses_is_rebuilt_and_compared(tmp_path, suffix, capsys):
    """Keras 3 refuses both files (.keras: 'Could not locate class Functional'; .h5: groups on
    DepthwiseConv2D); rebuilt, the model is the same, and the torch model it was converted
    from (weights carried torch -> Keras, nobuco's direction) agrees with it."""
    path = tmp_path / f"m{suffix}"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # tf_keras calls .h5 a legacy format
        _keras2_model().save(path)
    from parity.backends import tf as B

    with pytest.raises(Exception):
        B.keras().models.load_model(path)
    model, how = legacy.load(str(path))
    assert how.startswith("tf_keras 2.") and "rebuilt in Keras 3" in how
    assert [type(layer).__name__ for layer in model.layers][-3:] == [
        "Cropping2D", "GlobalAveragePooling2D", "Dense"]
    code = main(["model", "--keras", str(path), "--torch", "model_candidates:nobuco_style_port",
                 "--carry", "torch-to-keras", "--out", str(tmp_path / "r")])
    assert code == 0, capsys.readouterr().out
    report = json.loads((tmp_path / "r" / "latest.json").read_text())
    assert report["model"]["keras_source"] == how
    assert report["model"]["verdict"]["status"] == "pass"


def test_a_rebuild_that_changes_the_model_is_refused(monkeypatch):
    """The layer-by-layer check is what makes the rebuild safe: a rebuild that drops an
    argument it should keep (SAME padding) is caught there."""
    old = _keras2_model()
    real = legacy._arguments

    def lossy(cls, config):
        out = real(cls, config)
        out.pop("padding", None)   # a rebuild that loses the SAME padding
        return out

    monkeypatch.setattr(legacy, "_arguments", lossy)
    with pytest.raises(ModelError, match="rebuild of tf_keras layer"):
        legacy.check_same(old, legacy.rebuild(old))


def test_an_unreadable_file_names_both_readers(tmp_path):
    bad = tmp_path / "bad.h5"
    bad.write_bytes(b"not a model")
    with pytest.raises(ModelError, match="Keras 3: .*tf_keras: "):
        legacy.load(str(bad))


def _nobuco_written():
    """A Keras 2 model as nobuco 0.17 writes one (read off its output for
    parity.model.converters.torch_cnn): ZeroPadding2D + VALID convs, ReLU6 as tf.clip_by_value,
    a VALID transposed conv and a slice, Flatten as tf.reshape of tf.shape, all TensorFlow
    functions called as layers (TFOpLambda, SlicingOpLambda)."""
    import tensorflow as tf

    L = tf_keras.layers
    tf_keras.utils.set_random_seed(5)
    inp = tf_keras.Input((16, 16, 3), batch_size=2)   # nobuco fixes the traced batch
    y = L.Conv2D(8, 3, padding="valid", name="conv2d")(L.ZeroPadding2D(1, name="zp")(inp))
    y = L.BatchNormalization(epsilon=1e-3, name="bn")(y)
    y = tf.clip_by_value(y, clip_value_min=0.0, clip_value_max=6.0)
    y = L.Conv2DTranspose(4, 4, strides=2, padding="valid", name="up")(y)
    y = y[:, 1:-1, 1:-1, :]
    y = L.GlobalAveragePooling2D(keepdims=True, name="gap")(y)
    y = tf.compat.v1.transpose(y, perm=[0, 3, 1, 2])
    y = tf.reshape(y, [tf.shape(y)[0], -1])
    model = tf_keras.Model(inp, L.Dense(3, name="dense")(y))
    bn = model.get_layer("bn")
    g, b, _, _ = bn.get_weights()
    bn.set_weights([g, b, np.linspace(-0.3, 0.3, 8), np.linspace(0.5, 1.5, 8)])
    return model


def nobuco_written_source():
    """The torch module _nobuco_written was converted from (loaded by name by the CLI)."""
    import torch.nn as nn

    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8, eps=1e-3), nn.ReLU6(),
        nn.ConvTranspose2d(8, 4, 4, stride=2, padding=1), nn.AdaptiveAvgPool2d(1),
        nn.Flatten(), nn.Linear(4, 3))


def test_tensorflow_functions_called_as_layers_become_the_keras_3_layers_they_compute(tmp_path):
    """clip_by_value(0, 6) is a ReLU(max_value=6), the border slice a Cropping2D, the transpose
    a Permute, reshape(x, [n, -1]) a Flatten (the shape arithmetic feeding it is left out):
    the rebuilt model is checked equal to the file's, and matched to the torch module it came
    from with no mapping (weights carried torch -> Keras, as nobuco's are)."""
    from parity.model import compare

    path = tmp_path / "nobuco.h5"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _nobuco_written().save(path)
    model, how = legacy.load(str(path))
    kinds = {layer.name: type(layer).__name__ for layer in model.layers}
    assert [kinds[n] for n in ("tf.clip_by_value", "tf.__operators__.getitem",
                               "tf.compat.v1.transpose", "tf.reshape")] == \
        ["ReLU", "Cropping2D", "Permute", "Flatten"]
    assert not any(n.startswith("tf.compat.v1.shape") for n in kinds)
    result = compare(model, nobuco_written_source(), carry_weights="torch-to-keras")
    rows = {r["layer"]: r for r in result["layers"]}
    assert result["verdict"]["status"] == "pass", result["layers"]
    assert rows["tf.clip_by_value"]["torch"] == ["2"]   # ReLU6
    assert "following tf.__operators__.getitem" in rows["up"]["compared"]


def test_a_wrong_translation_of_a_tensorflow_function_is_caught_by_the_layer_check(monkeypatch):
    """A crop translated one pixel off is not the file's model: refused, naming the layer."""
    from parity.model import legacy_ops

    real = legacy_ops._cropping

    def off_by_one(keras, x, spec, name):
        layer = real(keras, x, spec, name)
        (a, b), (c, d) = layer.cropping
        return type(layer)(((a - 1, b + 1), (c - 1, d + 1)), name=name)

    monkeypatch.setattr(legacy_ops, "_cropping", off_by_one)
    old = _nobuco_written()
    with pytest.raises(ModelError, match="tf.__operators__.getitem"):
        legacy.check_same(old, legacy.rebuild(old))


def test_a_tensorflow_function_no_keras_3_layer_computes_is_called_in_a_lambda():
    import tensorflow as tf

    inp = tf_keras.Input((6,))
    old = tf_keras.Model(inp, tf_keras.layers.Dense(2, name="d")(tf.math.square(inp) * 0.5))
    new = legacy.rebuild(old)
    assert [type(layer).__name__ for layer in new.layers][1:] == ["Lambda", "Lambda", "Dense"]
    assert legacy.check_same(old, new) < 1e-6
