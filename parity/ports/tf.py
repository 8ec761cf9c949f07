"""TensorFlow implementations of PyTorch semantics (the other direction of the ports).

Importing this module imports TensorFlow.
"""
from __future__ import annotations

import tensorflow as tf


def conv_transpose_torch(x, filters, bias=None, stride=1, padding=0, output_padding=0, dilation=1):
    """``torch.nn.functional.conv_transpose{1,2,3}d`` semantics in TF, channels last.

    ``x`` is ``(N, *n, Cin)``, ``filters`` TF's transposed layout ``(*k, Cout, Cin)``. Torch
    returns the window ``[padding, padding + out)`` of the full transposed result, with
    ``out = (n-1)*s - 2*padding + (k-1)*d + 1 + output_padding``: computed here as TF's VALID
    transposed convolution (the full result), zero-extended at the end, then cropped.

    >>> y = conv_transpose_torch(tf.ones((1, 2, 2, 1)), tf.ones((3, 3, 1, 1)), stride=2, padding=1,
    ...                          output_padding=1)
    >>> tuple(y.shape)
    (1, 4, 4, 1)
    """
    rank = len(x.shape) - 2
    as_t = (lambda v: (v,) * rank if isinstance(v, int) else tuple(v))
    stride, padding, output_padding, dilation = map(as_t, (stride, padding, output_padding,
                                                           dilation))
    kernel, n = tuple(filters.shape[:rank]), tuple(x.shape[1:1 + rank])
    full = [(ni - 1) * s + (k - 1) * d + 1 for ni, k, s, d in zip(n, kernel, stride, dilation)]
    outs = [f - 2 * p + op for f, p, op in zip(full, padding, output_padding)]
    y = tf.nn.conv_transpose(x, filters, output_shape=[x.shape[0], *full, filters.shape[-2]],
                             strides=stride, padding="VALID", dilations=dilation)
    extend = [[0, 0]] + [[0, max(0, p + o - f)] for p, o, f in zip(padding, outs, full)] + [[0, 0]]
    y = tf.pad(y, extend)
    y = y[(slice(None),) + tuple(slice(p, p + o) for p, o in zip(padding, outs)) + (slice(None),)]
    return y if bias is None else y + bias


def conv_torch(x, filters, bias=None, stride=1, padding=0, dilation=1):
    """``torch.nn.functional.conv{1,2,3}d`` integer-padding semantics in TF, channels last.

    Torch pads ``padding`` zeros on both sides of each spatial dimension; TF's ``VALID``
    convolution after an explicit ``tf.pad`` does the same. ``filters`` is ``(*k, in, out)``.

    >>> tuple(conv_torch(tf.ones((1, 2, 2, 1)), tf.ones((1, 1, 1, 1)), padding=(1, 2)).shape)
    (1, 4, 6, 1)
    """
    rank = len(x.shape) - 2
    as_t = (lambda v: (v,) * rank if isinstance(v, int) else tuple(v))
    stride, padding, dilation = map(as_t, (stride, padding, dilation))
    x = tf.pad(x, [[0, 0]] + [[p, p] for p in padding] + [[0, 0]])
    y = tf.nn.convolution(x, filters, strides=stride, padding="VALID", dilations=dilation)
    return y if bias is None else y + bias
