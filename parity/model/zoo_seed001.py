"""The seeds/001 Keras model and the PyTorch code offered there as its equivalent (verbatim but
float64); ``cases/seed001_model.py`` measures them layer by layer, ``parity model --zoo seed001``
compares them whole."""
from __future__ import annotations

import numpy as np


def keras_model(rng=None):
    from parity.backends import tf as B

    rng = rng if rng is not None else np.random.default_rng(0)

    keras = B.keras()
    L = keras.layers
    f64 = {"dtype": "float64"}  # a layer without it computes in float32 (Keras's default policy)
    model = keras.Sequential([
        keras.Input((32, 32, 3), dtype="float64"),
        L.Conv2D(64, (3, 3), **f64), L.BatchNormalization(axis=1, **f64),
        L.Activation("relu", **f64), L.Dropout(0.3, **f64),
        L.Conv2D(64, (3, 3), padding="same", **f64),
        L.BatchNormalization(axis=1, **f64), L.Activation("relu", **f64),
        L.MaxPooling2D(pool_size=(2, 2), strides=(2, 2), padding="same", **f64)])
    for layer in model.layers:
        ws = layer.get_weights()
        if isinstance(layer, L.BatchNormalization):  # gamma, beta, moving mean, moving variance
            ws = [rng.uniform(0.5, 1.5, ws[0].shape), rng.uniform(-0.5, 0.5, ws[1].shape),
                  rng.uniform(-0.2, 0.2, ws[2].shape), rng.uniform(0.5, 2.0, ws[3].shape)]
        elif ws:
            ws = [rng.uniform(-0.2, 0.2, w.shape) for w in ws]
        layer.set_weights(ws)
    return model


def offered_torch_model():
    """The PyTorch code of the accepted answer in seeds/001, verbatim but float64."""
    import torch.nn as nn

    return nn.Sequential(
        nn.Conv2d(3, 64, kernel_size=(3, 3), padding=1, bias=False), nn.BatchNorm2d(64),
        nn.ReLU(inplace=True), nn.Dropout(0.3),
        nn.Conv2d(64, 64, kernel_size=(3, 3), padding=1, bias=False), nn.BatchNorm2d(64),
        nn.ReLU(inplace=True), nn.MaxPool2d(kernel_size=(2, 2), stride=2, padding=0)).double()
