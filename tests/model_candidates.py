"""Torch modules for the ``parity model`` CLI tests (loaded by name)."""


def linear_first():
    """A module that starts with a Linear where the zoo CNN starts with a Conv2D."""
    import torch.nn as nn

    return nn.Sequential(nn.Flatten(), nn.Linear(32 * 32 * 3, 10))


def nobuco_style_port():
    """The torch model that the tf_keras model of tests/test_model_legacy.py was converted from
    (nobuco's direction): SAME convs as padding=1, the transposed conv as padding=1,
    output_padding=1 where the Keras file has a VALID one and a Cropping2D."""
    import torch.nn as nn

    return nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8, eps=1e-3, momentum=0.01), nn.ReLU(),
        nn.Conv2d(8, 8, 3, padding=1, groups=8),
        nn.ConvTranspose2d(8, 4, 3, stride=2, padding=1, output_padding=1),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 3))
