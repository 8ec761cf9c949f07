"""An op's Keras layer, written once and run on either Keras backend.

A ``KerasLayer`` says how to build the layer from a case's config (``build(keras, c, dtype)``,
given the ``keras`` module of the backend it runs on), which weights to load
(``weights(c, inputs)``, in ``set_weights`` order and Keras's layout) and which of its variables
have gradients to report (``grads(c)``: ``(output name, layer attribute, back to the canonical
layout)``). ``on_tf`` runs it on TensorFlow under a tape, the op's ``keras`` TF side; ``on_torch``
runs the same layer on Keras's torch backend under autograd, the ``keras_torch`` variants'
side (in a worker with ``KERAS_BACKEND=torch``). Both feed it the case's input channels last and
return ``y`` and the gradients in the canonical (channels-first, torch) layout.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Callable

import numpy as np

from parity.core import layout
from parity.ops.sides import DtypeWarning, tf_outputs
from parity.spec.registry import gradient_refused


def _no_weights(c, inp: dict) -> list:
    return []


def _no_grads(c) -> tuple:
    return ()


def _same(outputs: dict) -> dict:
    return outputs


@dataclass(frozen=True)
class KerasLayer:
    build: Callable            # (keras, config, dtype) -> an unbuilt layer
    weights: Callable = _no_weights  # (config, inputs) -> [arrays], Keras layout
    grads: Callable = _no_grads      # config -> ((name, attribute, to_canonical), ...)
    post: Callable = _same           # outputs -> outputs (e.g. a pool's dx_sum)


def _built(spec: KerasLayer, keras, c, inp: dict, dtype: str):
    layer = spec.build(keras, c, dtype)
    layer.build(layout.channels_first_to_last(inp["x"]).shape)
    weights = spec.weights(c, inp)
    if weights:
        layer.set_weights(weights)
    return layer


def on_tf(spec: KerasLayer, c, inp: dict, layer_dtype: str | None = None,
          x_dtype: str | None = None) -> dict:
    """The layer on Keras's TensorFlow backend (``layer_dtype``, ``x_dtype``: a mixed policy's
    layer fed float32; default the config's dtype)."""
    from parity.backends import tf as B

    keras, tf = B.keras(), B.tf()
    layer = _built(spec, keras, c, inp, layer_dtype or c.dtype)
    x = B.constant(layout.channels_first_to_last(inp["x"]), x_dtype or c.dtype)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x)
    grads = spec.grads(c)
    sources = {"x": x, **{name: getattr(layer, attr).value for name, attr, _ in grads}}
    return spec.post(tf_outputs(c.dtype, inp, tape, y, sources,
                                {"x": layout.channels_last_to_first,
                                 **{name: back for name, _, back in grads}}))


def on_torch(spec: KerasLayer, c, inp: dict, layer_dtype: str | None = None,
             x_dtype: str | None = None) -> dict:
    """The same layer on Keras's torch backend: ``y`` and, when its shape is right, the
    gradients for ``inp["dy"]`` (zeros for a variable ``y`` does not depend on);
    ``layer_dtype``, ``x_dtype`` as ``on_tf``'s."""
    from parity.backends import keras_torch as K

    layer = _built(spec, K.keras(), c, inp, layer_dtype or c.dtype)
    x = K.tensor(layout.channels_first_to_last(inp["x"]), x_dtype or c.dtype, True)
    y = layer(x)
    if str(y.dtype).replace("torch.", "") != c.dtype:
        warnings.warn(f"output y is {y.dtype}, expected {c.dtype}", DtypeWarning)
    out = {"y": layout.channels_last_to_first(K.to_numpy(y))}
    dy = layout.channels_first_to_last(inp["dy"])
    if tuple(y.shape) != dy.shape:
        return spec.post(out)
    try:
        y.backward(K.tensor(dy, c.dtype))
    except Exception as e:  # forward computed, gradient refused: keep the forward
        return gradient_refused(out, e)
    out["dx"] = layout.channels_last_to_first(K.to_numpy(x.grad))
    for name, attr, back in spec.grads(c):
        v = getattr(layer, attr).value
        out[f"d{name}"] = np.zeros(tuple(v.shape)) if v.grad is None else back(K.to_numpy(v.grad))
    return spec.post(out)


def tf_side(spec: KerasLayer) -> Callable:
    """``on_tf`` as an op's TF side."""
    return lambda c, inp: on_tf(spec, c, inp)


def torch_side(spec: KerasLayer) -> Callable:
    """``on_torch`` as an op's torch side."""
    return lambda c, inp: on_torch(spec, c, inp)
