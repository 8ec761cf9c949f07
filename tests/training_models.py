"""The small Keras CNN the training tests step: its weights drawn (randomize, on a calibration
batch), a batch of 4 and mse targets."""
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
