"""Keras 2 (``tf_keras``) model files, as nobuco and older code write them, in Keras 3.

Keras 3 cannot read them: a ``.keras`` file of tf_keras names the class ``Functional``, an
``.h5`` file carries arguments Keras 3's layers refuse (``groups`` on ``DepthwiseConv2D``).
``load`` reads such a file with tf_keras (an optional package: ``requirements-nodeps.txt``,
installed without its ``tensorflow`` dependency next to ``tensorflow-cpu``) and rebuilds the
model layer by layer in Keras 3: each layer's class by name, the arguments the Keras 3 class
takes, the same connections and the same weights. The rebuilt model is then run beside the
original on a seeded input, layer by layer; any difference beyond float32 rounding is an error,
so a comparison never rests on a translation that changed the model.
"""
from __future__ import annotations

import inspect

import numpy as np

from parity.model.errors import ModelError
from parity.model.legacy_ops import OP_LAYERS, rebuild_op

_BASE_ARGS = {"name", "trainable", "dtype"}
_DROPPED = ("_initializer", "_regularizer", "_constraint")   # the weights are set afterwards
AGREEMENT = 1e-5
"""The largest difference (relative to each layer's output scale) the rebuilt model may show."""


def load(path: str):
    """The Keras 3 model of ``path``: read by Keras 3, or else by tf_keras and rebuilt
    (``ModelError`` saying why where neither works). Returns (model, how it was read)."""
    from parity.backends import tf as B

    keras = B.keras()
    try:
        return keras.models.load_model(path), "Keras 3"
    except Exception as e:  # noqa: BLE001 - any unreadable file: tf_keras may read it
        first = f"{type(e).__name__}: {str(e).splitlines()[0][:160]}"
    try:
        import tf_keras
    except ImportError:
        raise ModelError(f"cannot load Keras model {path}: {first}; if it is a Keras 2 "
                         "(tf_keras) file, install tf_keras (pip install --no-deps "
                         "tf_keras) to read it") from None
    try:
        old = tf_keras.models.load_model(path, compile=False)
    except Exception as e:  # noqa: BLE001
        raise ModelError(f"cannot load Keras model {path}: Keras 3: {first}; tf_keras: "
                         f"{type(e).__name__}: {str(e).splitlines()[0][:160]}") from None
    model = rebuild(old)
    worst = check_same(old, model)
    return model, (f"tf_keras {tf_keras.__version__} model rebuilt in Keras 3 (largest layer "
                   f"difference {worst:.3g} of the output scale)")


def _arguments(cls, config: dict) -> dict:
    accepted = set(inspect.signature(cls.__init__).parameters) | _BASE_ARGS
    out = {k: v for k, v in config.items() if k in accepted and not k.endswith(_DROPPED)}
    if isinstance(out.get("dtype"), dict):   # a Keras 2 dtype policy
        out["dtype"] = out["dtype"].get("config", {}).get("name", "float32")
    for k, v in out.items():
        if type(v).__name__ == "ListWrapper":   # tf's tracking list (BatchNormalization's axis)
            out[k] = list(v)
    if isinstance(out.get("axis"), list) and len(out["axis"]) == 1:
        out["axis"] = out["axis"][0]
    return out


def rebuild(old):
    """A Keras 3 functional model with ``old``'s layers, connections and weights."""
    from parity.backends import tf as B

    keras = B.keras()
    pending: dict[str, object] = {}

    class Tensors(dict):
        def __missing__(self, name):
            self[name] = rebuild_op(keras, pending[name], self)
            return self[name]
    tensors = Tensors()
    inputs = []
    for layer in old.layers:
        cls_name = type(layer).__name__
        if cls_name == "InputLayer":
            shape = tuple(layer.get_config()["batch_input_shape"][1:])
            t = keras.Input(shape, name=layer.name)
            tensors[layer.name] = t
            inputs.append(t)
            continue
        if cls_name in OP_LAYERS:   # a TensorFlow function called as a layer: rebuilt
            pending[layer.name] = layer   # when read (nobuco's shape arithmetic is dead code
            continue                      # once its reshape is a Flatten)
        cls = getattr(keras.layers, cls_name, None)
        if cls is None:
            raise ModelError(f"tf_keras layer {layer.name!r} ({cls_name}) has no Keras 3 class "
                             "of that name")
        try:
            new = cls(**_arguments(cls, layer.get_config()))
        except Exception as e:  # noqa: BLE001
            raise ModelError(f"tf_keras layer {layer.name!r} ({cls_name}) cannot be rebuilt in "
                             f"Keras 3: {type(e).__name__}: {str(e).splitlines()[0][:160]}") \
                from None
        sources = _inbound(layer)
        if not inputs and not sources:   # a Sequential without its InputLayer
            t = keras.Input(tuple(layer.input_shape[1:]))
            inputs.append(t)
            sources = [None]
        args = [tensors[s] if s is not None else inputs[0] for s in sources]
        tensors[layer.name] = new(args if len(args) > 1 else args[0])
        new.set_weights(layer.get_weights())
    if len(inputs) != 1:
        raise ModelError(f"the tf_keras model has {len(inputs)} inputs; one is supported")
    outputs = [tensors[_history(t)] for t in _as_list(old.outputs)]
    return keras.Model(inputs[0], outputs if len(outputs) > 1 else outputs[0], name=old.name)


def _as_list(t) -> list:
    return list(t) if isinstance(t, (list, tuple)) else [t]


def _history(tensor) -> str:
    return tensor._keras_history.layer.name  # noqa: SLF001 - tf_keras's own graph record


def _inbound(layer) -> list[str]:
    nodes = layer._inbound_nodes  # noqa: SLF001
    if not nodes:
        return []
    if len(nodes) > 1:
        raise ModelError(f"tf_keras layer {layer.name!r} is used {len(nodes)} times (shared); "
                         "rebuilding shared layers is not supported")
    return [layer.name for layer in _as_list(nodes[0].inbound_layers)]


def check_same(old, new) -> float:
    """Every layer of both models on one seeded input; the largest difference relative to the
    layer's output scale (``ModelError`` above ``AGREEMENT``)."""
    from parity.backends import tf as B

    keras, tf = B.keras(), B.tf()
    shape = tuple(new.inputs[0].shape[1:])
    x = np.random.default_rng(0).uniform(-1, 1, (2, *shape)).astype(np.float32)
    names = [layer.name for layer in new.layers if type(layer).__name__ != "InputLayer"]
    probe_new = keras.Model(new.inputs, [new.get_layer(n).output for n in names])
    import tf_keras

    probe_old = tf_keras.Model(old.inputs, [old.get_layer(n).output for n in names])
    got = _as_list(probe_new(tf.constant(x), training=False))
    want = _as_list(probe_old(tf.constant(x), training=False))
    worst = 0.0
    for name, a, b in zip(names, got, want):
        a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
        scale = max(float(np.max(np.abs(b), initial=0.0)), 1e-30)
        if a.shape != b.shape:
            raise ModelError(f"the Keras 3 rebuild of tf_keras layer {name!r} gives shape "
                             f"{a.shape}, tf_keras {b.shape}")
        diff = float(np.max(np.abs(a - b), initial=0.0)) / scale
        if diff > AGREEMENT:
            raise ModelError(f"the Keras 3 rebuild of tf_keras layer {name!r} differs from it by "
                             f"{diff:.3g} of its output scale: not compared")
        worst = max(worst, diff)
    return worst
