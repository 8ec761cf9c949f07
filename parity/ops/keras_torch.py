"""The ``keras_torch`` variant: Keras 3's own torch backend (``keras.src.backend.torch.nn``) as the
torch side of the SAME conv, depthwise, pooling and transposed-conv ops.

Keras picks its backend once per process, so these sides run in a worker process with
``KERAS_BACKEND=torch`` (``parity.exec.isolation``); the TF side is the port variant's. Inputs are
channels first (``data_format="channels_first"``), kernels in Keras's layout built from the
case's torch-layout weights with torch ops (so autograd reaches them), and the bias added after
the call as Keras's layers do.
"""
from __future__ import annotations

from parity.ops.sides import torch_run
import parity.ops.conv  # noqa: F401  (the ops it extends register first)
import parity.ops.pool  # noqa: F401  (the ops it extends register first)
import parity.ops.transpose  # noqa: F401  (the ops it extends register first)
from parity.spec.registry import Variant, add_variant, get

ENV = {"KERAS_BACKEND": "torch"}


def _knn():
    from parity.backends import torch as B

    B.torch()  # thread settings first
    from keras.src.backend.torch import nn

    return nn


def _with_bias(y, b):
    return y if b is None else y + b.reshape((1, -1) + (1,) * (y.ndim - 2))


def conv(c, inp: dict) -> dict:
    """keras.src.backend.torch.nn.conv(padding="same"); kernel (*k, in/groups, out)."""
    def fn(x, w, b):
        kernel = w.permute(*range(2, w.ndim), 1, 0)
        return _with_bias(_knn().conv(x, kernel, strides=c.stride, padding="same",
                                      data_format="channels_first",
                                      dilation_rate=c.dilation), b)
    return torch_run(c.dtype, inp, fn)


def depthwise(c, inp: dict) -> dict:
    """keras.src.backend.torch.nn.depthwise_conv(padding="same"); kernel (kh, kw, C, M)."""
    def fn(x, w, b):
        m = c.out_channels // c.in_channels
        kernel = w.reshape(c.in_channels, m, *w.shape[2:]).permute(2, 3, 0, 1)
        return _with_bias(_knn().depthwise_conv(x, kernel, strides=c.stride, padding="same",
                                                data_format="channels_first",
                                                dilation_rate=c.dilation), b)
    return torch_run(c.dtype, inp, fn)


def pool(kind: str):
    def side(c, inp: dict) -> dict:
        """keras.src.backend.torch.nn.max_pool / average_pool(padding="same")."""
        from parity.ops.pool import _with_sum

        def fn(x):
            f = _knn().max_pool if kind == "max" else _knn().average_pool
            return f(x, c.window, strides=c.stride, padding="same", data_format="channels_first")
        return _with_sum(torch_run(c.dtype, inp, fn, params=("x",)))
    return side


def conv_transpose(c, inp: dict) -> dict:
    """keras.src.backend.torch.nn.conv_transpose(padding, output_padding); kernel (*k, out, in)."""
    def fn(x, w, b):
        kernel = w.permute(*range(2, w.ndim), 1, 0)
        return _with_bias(_knn().conv_transpose(
            x, kernel, strides=c.stride, padding=c.padding,
            output_padding=c.output_padding or None, data_format="channels_first",
            dilation_rate=c.dilation), b)
    return torch_run(c.dtype, inp, fn)


def _add(op_name: str, side, what: str) -> None:
    tf = get(op_name).variants["port"].tf
    add_variant(op_name, Variant("keras_torch", tf, "keras_torch",
                                 f"{tf} vs {what} (Keras 3 on torch, in a worker)", ENV), side)


for _r in (1, 2, 3):
    _add(f"conv{_r}d_same", conv, "keras.src.backend.torch.nn.conv")
    _add(f"conv_transpose{_r}d", conv_transpose, "keras.src.backend.torch.nn.conv_transpose")
    for _kind, _fn in (("max", "max_pool"), ("avg", "average_pool")):
        _add(f"{_kind}_pool{_r}d_same", pool(_kind), f"keras.src.backend.torch.nn.{_fn}")
_add("depthwise_conv2d_same", depthwise, "keras.src.backend.torch.nn.depthwise_conv")
