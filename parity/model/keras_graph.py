"""The Keras side of a model comparison: its layers in order, every layer's inputs and outputs
in one run, a float64 clone, and single layers run on given inputs (float64, and on absolute
values for the rounding bounds)."""
from __future__ import annotations

import warnings

import numpy as np

from parity.model.errors import ModelError
from parity.model.kinds import keras_kind


def _history_name(tensor) -> str:
    return tensor._keras_history.operation.name  # noqa: SLF001 - Keras's own graph record


def weights_by_name(layer) -> dict:
    """A Keras layer's weight variables by short name ('kernel', 'gamma', 'moving_mean', ...)."""
    return {w.path.split("/")[-1]: w for w in layer.weights}


def _as_list(t) -> list:
    return list(t) if isinstance(t, (list, tuple)) else [t]


class KerasGraph:
    """``model``: a built Keras Sequential or Functional model with one input."""

    def __init__(self, model):
        from parity.backends import tf as B

        self.keras, self.tf = B.keras(), B.tf()
        if not getattr(model, "built", False) or not getattr(model, "inputs", None):
            raise ModelError("the Keras model must be built with a known input shape "
                             "(keras.Input(...) first, or call it once)")
        if len(model.inputs) != 1:
            raise ModelError(f"the Keras model has {len(model.inputs)} inputs; one is supported")
        self.model = model
        self.layers = []
        for layer in model.layers:
            kind = keras_kind(layer)
            if kind == "input":
                continue
            if kind == "model":
                raise ModelError(f"Keras layer {layer.name!r} is a nested model; compare it "
                                 "on its own or flatten it into the outer model")
            self.layers.append(layer)
        self.by_name = {layer.name: layer for layer in self.layers}
        self.input_name = _history_name(model.inputs[0])
        self.inputs_of = {layer.name: [_history_name(t) for t in _as_list(layer.input)]
                          for layer in self.layers}
        self.input_shape = tuple(model.inputs[0].shape[1:])
        self.flattens_as_keras: set[str] = set()
        """Dense layers whose torch counterpart reads the image flattened in Keras's
        ``(h, w, c)`` order (``dataflow.keras_order_flattens``, set by ``compare``)."""
        self._probe = {}
        self._model64 = None

    def kind(self, name: str) -> str:
        return keras_kind(self.by_name[name])

    # ------------------------------------------------------------ runs
    def model_for(self, dtype: str):
        if dtype == "float64":
            if self._model64 is None:
                self._model64 = self._clone_float64()
            return self._model64
        return self.model

    def _clone_float64(self):
        return float64_clone(self.keras, self.model)

    def run(self, x: np.ndarray, dtype: str, training: bool = False):
        """Every layer's output and inputs (numpy, Keras layout) for input ``x``."""
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            outs = self.probe(dtype)(self.tf.constant(x, dtype=dtype), training=training)
        outs = {k: v.numpy() for k, v in outs.items()}
        outs[self.input_name] = np.asarray(x, dtype=dtype)
        return outs

    def probe(self, dtype: str):
        """The ``dtype`` model with every layer's output as an output (``{name: tensor}``):
        the same layers and variables."""
        if dtype not in self._probe:
            model = self.model_for(dtype)
            outs = {layer.name: model.get_layer(layer.name).output for layer in self.layers}
            self._probe[dtype] = self.keras.Model(model.inputs, outs)
        return self._probe[dtype]

    def layer_inputs(self, name: str, outs: dict) -> list[np.ndarray]:
        return [outs[src] for src in self.inputs_of[name]]

    def call_layer(self, name: str, inputs: list[np.ndarray], dtype: str = "float64",
                   absolute: bool = False, linear: bool = False) -> np.ndarray:
        """One layer of the ``dtype`` model on ``inputs``; ``absolute``: a fresh float64 copy
        with every weight made non-negative (a mean made non-positive) on ``|inputs|``, the
        magnitude that enters each output element's rounding error."""
        layer = self.model_for(dtype).get_layer(name)
        if absolute:
            layer = self._absolute(name)
            inputs = [np.abs(a) for a in inputs]
        args = [self.tf.constant(a, dtype=dtype) for a in inputs]
        arg = args if len(args) > 1 else args[0]
        kwargs = {"training": False} if "training" in _call_args(layer) else {}
        if not linear or not hasattr(layer, "activation"):
            return np.asarray(layer(arg, **kwargs))
        saved = layer.activation
        layer.activation = self.keras.activations.linear
        try:
            return np.asarray(layer(arg, **kwargs))
        finally:
            layer.activation = saved

    def _absolute(self, name: str):
        cache = self.__dict__.setdefault("_abs", {})
        if name not in cache:
            src = self.by_name[name]
            cfg = src.get_config()
            cfg["dtype"] = "float64"
            layer = src.__class__.from_config(cfg)
            shapes = [tuple(t.shape) for t in _as_list(src.input)]
            layer.build(shapes if len(shapes) > 1 else shapes[0])
            weights = [np.abs(w).astype(np.float64) for w in src.get_weights()]
            for i, n in enumerate(weights_by_name(src)):
                if n in ("moving_mean", "mean"):
                    weights[i] = -weights[i]
            if weights:
                layer.set_weights(weights)
            cache[name] = layer
        return cache[name]


def float64_clone(keras, model):
    """``model`` rebuilt with every layer in float64, holding its weights (on whichever backend
    ``keras`` runs)."""
    def f64(layer):
        cfg = dict(layer.get_config(), dtype="float64")
        return layer.__class__.from_config(cfg)

    try:
        inp = keras.Input(batch_shape=tuple(model.inputs[0].shape), dtype="float64")
        clone = keras.models.clone_model(model, input_tensors=inp, clone_function=f64)
        clone.set_weights([w.astype(np.float64) if np.issubdtype(w.dtype, np.floating)
                           else w for w in model.get_weights()])
    except Exception as e:  # noqa: BLE001 - a layer without float64 support
        raise ModelError(f"the Keras model cannot be cloned in float64: {e}") from None
    return clone


def _call_args(layer) -> tuple:
    code = getattr(type(layer).call, "__code__", None)
    return code.co_varnames[:code.co_argcount] if code else ()
