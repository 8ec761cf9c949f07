"""A small Keras CNN and two torch twins: one written with ``parity.ports`` (equivalent), one
written the way ports are often written (``padding=k//2``, ``BatchNorm2d`` defaults,
``MaxPool2d`` without padding), which must be caught at the right layer."""
from __future__ import annotations

INPUT = (32, 32, 3)


def keras_cnn():
    from parity.backends import tf as B

    keras = B.keras()
    L = keras.layers
    return keras.Sequential([
        keras.Input(INPUT),
        L.Conv2D(8, 3, padding="same", name="conv1"),
        L.BatchNormalization(name="bn1"), L.ReLU(name="relu1"),
        L.Conv2D(16, 3, strides=2, padding="same", name="conv2"),
        L.BatchNormalization(name="bn2"), L.ReLU(name="relu2"),
        L.DepthwiseConv2D(3, padding="same", name="dw3"),
        L.BatchNormalization(name="bn3"), L.ReLU(name="relu3"),
        L.MaxPooling2D(3, strides=2, padding="same", name="pool3"),
        L.Conv2D(16, 1, name="conv4"),
        L.Flatten(name="flatten"),
        L.Dense(10, name="logits")], name="cnn")


def ports_twin(batchnorm: str = "torch"):
    """``batchnorm="keras"``: ``parity.ports.KerasBatchNorm``, Keras's training semantics too
    (torch's BatchNorm2d updates its running variance with the unbiased batch variance)."""
    import torch.nn as nn

    from parity.ports import Conv2dSame, DepthwiseConv2dSame, KerasBatchNorm, MaxPool2dSame

    def bn(c):
        if batchnorm == "keras":
            return KerasBatchNorm(c, dim=1, momentum=0.99, epsilon=1e-3)
        return nn.BatchNorm2d(c, eps=1e-3, momentum=0.01)
    return nn.Sequential(
        Conv2dSame(3, 8, 3), bn(8), nn.ReLU(),
        Conv2dSame(8, 16, 3, stride=2), bn(16), nn.ReLU(),
        DepthwiseConv2dSame(16, 3), bn(16), nn.ReLU(),
        MaxPool2dSame(3, 2), nn.Conv2d(16, 16, 1), nn.Flatten(), nn.Linear(16 * 8 * 8, 10))


def naive_twin():
    import torch.nn as nn

    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
        nn.Conv2d(8, 16, 3, stride=2, padding=1), nn.BatchNorm2d(16), nn.ReLU(),
        nn.Conv2d(16, 16, 3, padding=1, groups=16), nn.BatchNorm2d(16), nn.ReLU(),
        nn.MaxPool2d(3, 2, padding=1), nn.Conv2d(16, 16, 1), nn.Flatten(),
        nn.Linear(16 * 8 * 8, 10))
