"""Torch modules for the ``parity model`` CLI tests (loaded by name)."""


def linear_first():
    """A module that starts with a Linear where the zoo CNN starts with a Conv2D."""
    import torch.nn as nn

    return nn.Sequential(nn.Flatten(), nn.Linear(32 * 32 * 3, 10))
