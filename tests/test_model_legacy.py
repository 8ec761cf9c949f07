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
