"""One Keras training step written once for either Keras backend: ``parity model --against
keras-torch --train`` runs it on TensorFlow (in the parity process) and on Keras's torch
backend (in the child, ``keras_torch_child.train``).

The model's layers' outputs in training mode, the loss and the gradient of every trainable
weight (taken with the backend's own autograd: ``tf.GradientTape`` or torch's ``backward``),
the moving statistics put back afterwards; then ``steps`` ``train_on_batch`` of a compiled clone
(the user's step: ``model.compile(optimizer, loss)``), the loss before and every weight after
each. The random layers are made the identity, the loss is built in the model's dtype.
"""
from __future__ import annotations

import numpy as np

from parity.model.keras_graph import weights_by_name
from parity.model.training_keras import loss_object, random_layers_off, restore_random
from parity.model.training_optim import keras_optimizer


def tf_gradients(value_fn, variables):
    """(outputs, loss, gradients) under ``tf.GradientTape``."""
    from parity.backends import tf as B

    with B.tf().GradientTape() as tape:
        outs, value = value_fn()
    return outs, value, tape.gradient(value, list(variables))


def torch_gradients(value_fn, variables):
    """(outputs, loss, gradients) by torch's autograd (Keras's torch variables are
    ``torch.nn.Parameter``)."""
    for v in variables:
        v.value.grad = None
    outs, value = value_fn()
    value.backward()
    return outs, value, [v.value.grad for v in variables]


def _numpy(keras, t) -> np.ndarray:
    return np.array(keras.ops.convert_to_numpy(t), copy=True)


def _weights(keras, model) -> dict:
    return {(layer.name, short): _numpy(keras, w) for layer in model.layers
            for short, w in weights_by_name(layer).items()}


def run(keras, model, x, y, loss: str, optimizer: str, hyper: dict, steps: int, gradients,
        dtype: str) -> dict:
    """The step's record: ``forward`` {layer: output}, ``gradient`` {(layer, weight): value},
    ``history`` [{``loss``, ``after`` {(layer, weight): value}}] per ``train_on_batch``."""
    random = random_layers_off(model)
    try:
        return _run(keras, model, x, y, loss, optimizer, hyper, steps, gradients, dtype)
    finally:
        restore_random(random)


def _run(keras, model, x, y, loss, optimizer, hyper, steps, gradients, dtype) -> dict:
    layers = [layer for layer in model.layers if type(layer).__name__ != "InputLayer"]
    out_name = layers[-1].name
    probe = keras.Model(model.inputs, {layer.name: layer.output for layer in layers})
    lossf = loss_object(keras, loss, dtype)
    x_t, y_t = keras.ops.convert_to_tensor(x), keras.ops.convert_to_tensor(y)
    trainable = list(model.trainable_weights)
    names = {id(w): (layer.name, short) for layer in model.layers
             for short, w in weights_by_name(layer).items()}

    def value_fn(m=probe):
        outs = m(x_t, training=True)
        return outs, lossf(y_t, outs[out_name] if isinstance(outs, dict) else outs)

    saved = [_numpy(keras, w) for w in model.non_trainable_weights]
    outs, value, grads = gradients(value_fn, trainable)
    for w, v in zip(model.non_trainable_weights, saved):   # the statistics put back
        w.assign(v)
    record = {"forward": {n: _numpy(keras, v) for n, v in outs.items()},
              "gradient": {names[id(w)]: _numpy(keras, g) for w, g in zip(trainable, grads)
                           if g is not None},
              "history": []}
    clone = keras.models.clone_model(model)
    clone.set_weights(model.get_weights())
    random_layers_off(clone)
    clone.compile(optimizer=keras_optimizer(optimizer, hyper, keras), loss=lossf)
    for s in range(steps):
        if s > 0:   # the loss the step starts from, the statistics put back
            saved = [_numpy(keras, w) for w in clone.non_trainable_weights]
            value = lossf(y_t, clone(x_t, training=True))
            for w, v in zip(clone.non_trainable_weights, saved):
                w.assign(v)
        clone.train_on_batch(x_t, y_t)
        record["history"].append({"loss": float(_numpy(keras, value)),
                                  "after": _weights(keras, clone)})
    return record
