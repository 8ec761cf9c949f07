"""Layout converters between TensorFlow and PyTorch conventions.

Each works on NumPy arrays and on torch tensors alike (anything with
``permute``/``transpose`` and ``reshape``).

=============================  ===========================  ==========================
what                           TensorFlow                   PyTorch
=============================  ===========================  ==========================
activations                    ``(N, *spatial, C)``         ``(N, C, *spatial)``
conv kernel                    ``(*k, in/groups, out)``     ``(out, in/groups, *k)``
transposed conv kernel         ``(*k, out, in)``            ``(in, out, *k)``
depthwise kernel               ``(kh, kw, C, M)``           ``(C*M, 1, kh, kw)``, groups=C
=============================  ===========================  ==========================

Example:
    >>> import numpy as np
    >>> kernel_tf_to_torch(np.zeros((3, 5, 2, 8))).shape
    (8, 2, 3, 5)
"""
from __future__ import annotations

import numpy as np


def _permute(a, axes):
    return a.permute(*axes) if hasattr(a, "permute") else np.transpose(a, axes)


def channels_last_to_first(a):
    """``(N, *spatial, C)`` -> ``(N, C, *spatial)``."""
    return _permute(a, (0, a.ndim - 1) + tuple(range(1, a.ndim - 1)))


def channels_first_to_last(a):
    """``(N, C, *spatial)`` -> ``(N, *spatial, C)``."""
    return _permute(a, (0,) + tuple(range(2, a.ndim)) + (1,))


def kernel_tf_to_torch(w):
    """TF conv kernel ``(*k, in, out)`` -> torch ``(out, in, *k)``."""
    r = w.ndim - 2
    return _permute(w, (r + 1, r) + tuple(range(r)))


def kernel_torch_to_tf(w):
    """Torch conv weight ``(out, in, *k)`` -> TF ``(*k, in, out)``."""
    return _permute(w, tuple(range(2, w.ndim)) + (1, 0))


def depthwise_tf_to_torch(w):
    """TF depthwise ``(*k, C, M)`` -> torch grouped ``(C*M, 1, *k)`` (use ``groups=C``).

    Output channel ``c*M + m`` is the same in both frameworks.

    >>> depthwise_tf_to_torch(np.zeros((3, 3, 4, 2))).shape
    (8, 1, 3, 3)
    """
    r = w.ndim - 2
    c, m = w.shape[-2], w.shape[-1]
    moved = _permute(w, (r, r + 1) + tuple(range(r)))
    return moved.reshape((c * m, 1) + tuple(w.shape[:r]))


def depthwise_torch_to_tf(w, channels: int):
    """Torch grouped ``(C*M, 1, *k)`` -> TF depthwise ``(*k, C, M)``."""
    r = w.ndim - 2
    m = w.shape[0] // channels
    split = w.reshape((channels, m) + tuple(w.shape[2:]))
    return _permute(split, tuple(range(2, r + 2)) + (0, 1))


def transpose_kernel_tf_to_torch(w):
    """TF transposed-conv kernel ``(*k, out, in)`` -> torch ``ConvTranspose`` ``(in, out, *k)``.

    The same axis permutation as ``kernel_tf_to_torch``; the two last TF axes mean out, in here.

    >>> transpose_kernel_tf_to_torch(np.zeros((3, 5, 8, 2))).shape
    (2, 8, 3, 5)
    """
    return kernel_tf_to_torch(w)


def transpose_kernel_torch_to_tf(w):
    """Torch ``ConvTranspose`` weight ``(in, out, *k)`` -> TF ``(*k, out, in)``."""
    return kernel_torch_to_tf(w)


def torch_layout(a, channels_first: bool):
    """A Keras-layout activation in the torch module's layout: channels first where the module
    is (and the array has spatial axes), else as is."""
    return channels_last_to_first(a) if channels_first and a.ndim >= 3 else a
