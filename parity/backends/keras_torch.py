"""Keras 3 on its torch backend, imported lazily, in a process started with
``KERAS_BACKEND=torch`` (Keras picks its backend once per process).

torch's thread settings are applied first (``parity.backends.torch``), so Keras's kernels run
with the threads every torch side of parity uses.
"""
from __future__ import annotations

import os

from parity.backends import BackendUnavailable

_keras = None


def keras():
    """The ``keras`` module, checked to run on torch."""
    global _keras
    if _keras is None:
        from parity.backends import torch as B

        B.torch()
        if os.environ.get("KERAS_BACKEND") != "torch":
            raise BackendUnavailable("Keras on torch needs KERAS_BACKEND=torch before Keras "
                                     "loads (a side of a keras_torch variant runs in a worker)")
        try:
            import keras as k
        except ImportError as e:
            raise BackendUnavailable(f"keras is not importable: {e}") from None
        if k.backend.backend() != "torch":
            raise BackendUnavailable(f"Keras runs on {k.backend.backend()}, not torch")
        _keras = k
    return _keras


def nn():
    """``keras.src.backend.torch.nn``: the functions Keras's layers call on this backend."""
    keras()
    from keras.src.backend.torch import nn as knn

    return knn


def image():
    """``keras.src.backend.torch.image`` (resize)."""
    keras()
    from keras.src.backend.torch import image as kimage

    return kimage


def tensor(a, dtype: str, requires_grad: bool = False):
    """An exact torch tensor (``parity.backends.torch.tensor``), for Keras to take."""
    from parity.backends import torch as B

    return B.tensor(a, dtype, requires_grad)


def to_numpy(t):
    """Float64 copy of a tensor or Keras variable."""
    from parity.backends import torch as B

    return B.to_numpy(getattr(t, "value", t))


def keras_fans(shape) -> tuple[int, int]:
    """(fan_in, fan_out) as Keras's initializers compute them (``compute_fans``)."""
    keras()
    from keras.src.initializers.random_initializers import compute_fans

    return compute_fans(tuple(int(s) for s in shape))


def constant(a, dtype: str):
    """An exact torch tensor that needs no gradient (``parity.backends.tf.constant``'s role)."""
    return tensor(a, dtype)
