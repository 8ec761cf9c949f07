"""Small Keras models the training and backend tests step: the CNN (its weights drawn by
randomize on a calibration batch, a batch of 4 and mse targets) and a stack of given layers."""
import numpy as np


def cnn(batch_seed: int | None = None):
    """(model, x, y); ``batch_seed``: train on another batch than the calibration one (its
    statistics then differ from the moving ones)."""
    from parity.backends import tf as B
    from parity.model.weights import randomize
    from parity.model.zoo_twins import keras_cnn

    B.keras().utils.set_random_seed(0)
    model = keras_cnn()
    x = np.random.default_rng(0).uniform(-1, 1, (4, *model.inputs[0].shape[1:])).astype(
        np.float32)
    randomize(model, x, 0)
    if batch_seed is not None:
        x = np.random.default_rng(batch_seed).uniform(-1, 1, x.shape).astype(np.float32)
    y = np.random.default_rng(1).uniform(-1, 1, (4, 10)).astype(np.float32)
    return model, x, y


def stacked(layers, shape=(8, 8, 3), batch: int = 2, seed: int = 7, name: str = "m"):
    """(model, x): the Keras layers ``layers(keras.layers)`` applied in a row to an input of
    ``shape``, weights drawn on a batch uniform in [-1, 1) (``randomize``)."""
    from parity.backends import tf as B
    from parity.model.weights import randomize

    keras = B.keras()
    keras.utils.set_random_seed(seed)
    inp = keras.Input(shape)
    h = inp
    for layer in layers(keras.layers):
        h = layer(h)
    model = keras.Model(inp, h, name=name)
    x = np.random.default_rng(seed).uniform(-1, 1, (batch, *shape)).astype(np.float32)
    randomize(model, x, seed)
    return model, x
