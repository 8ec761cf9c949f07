"""What the comparison and the training steps share: the torch module run and matched to the
Keras layers, and a value moved between the two graphs' shapes and layouts."""
from __future__ import annotations

import numpy as np

from parity.core.layout import torch_layout
from parity.model import carry, dataflow
from parity.model import mapping as mapper
from parity.model.errors import ModelError
from parity.model.torch_graph import units


def model_inputs(kg, inputs, batch: int, seed: int) -> np.ndarray:
    """The compared inputs: ``inputs`` (Keras layout), or ``batch`` samples uniform in [-1, 1)
    (seeded), as float32 values held in float64 (the float32 and float64 runs start from the
    same numbers); a shape the Keras model does not take is refused."""
    if inputs is None:
        inputs = np.random.default_rng(seed).uniform(-1, 1, (batch, *kg.input_shape))
    x = np.asarray(inputs, dtype=np.float32).astype(np.float64)
    if tuple(x.shape[1:]) != tuple(kg.input_shape):
        raise ModelError(f"inputs have shape {x.shape}; the Keras model takes "
                         f"(batch, {', '.join(map(str, kg.input_shape))})")
    return x


def matched(kg, tg, x_t, mapping=None, channels_first: bool = True, input_first: bool = True,
            structure: dict | None = None):
    """(calls, [(Keras layer, [torch node labels])]): the torch module run (traced where fx
    can) on ``x_t``, its nodes matched to Keras's layers by dataflow (else by kind and call
    order), and the Dense layers that read a flatten in Keras's order found (their rows are
    carried as they are)."""
    calls, _, _ = tg.run(x_t.astype("float32"), "float32")
    modules = units(tg.module)
    if tg.nodes is None:
        return calls, mapper.automatic(kg, calls, modules, mapping)
    pairs = dataflow.automatic(kg, tg, modules, mapping, structure)
    if channels_first:
        kg.flattens_as_keras = dataflow.keras_order_flattens(kg, tg, pairs, input_first)
    return calls, pairs


def fit(t, k):
    """A torch output with trailing size-1 dimensions Keras drops (AdaptiveAvgPool2d(1) vs
    GlobalAveragePooling2D) in Keras's shape."""
    if t is not None and np.ndim(t) > np.ndim(k) and np.size(t) == np.size(k) and \
            all(d == 1 for d in np.shape(t)[np.ndim(k):]):
        return np.reshape(t, np.shape(t)[:np.ndim(k)])
    return t


def unfit(k, t):
    """A Keras value fed to the torch node whose own output ``t`` has the trailing size-1
    dimensions Keras drops (``_fit``'s inverse): in the torch node's shape."""
    if t is not None and np.ndim(t) > np.ndim(k) and \
            np.shape(t)[1:np.ndim(k)] == np.shape(k)[1:] and \
            all(d == 1 for d in np.shape(t)[np.ndim(k):]):
        return np.reshape(k, (np.shape(k)[0], *np.shape(t)[1:]))
    return k


def torch_input(kg, name: str, a: np.ndarray, channels_first: bool) -> np.ndarray:
    """A Keras layer's input in the torch module's layout: channels first, and a flattened
    image reordered from Keras's (h, w, c) to torch's (c, h, w)."""
    flat = carry.flatten_source_shape(kg, name) if channels_first and a.ndim == 2 else None
    if flat is not None:
        r = len(flat)
        img = a.reshape(a.shape[0], *flat)
        return np.ascontiguousarray(np.moveaxis(img, r, 1)).reshape(a.shape[0], -1)
    return torch_layout(a, channels_first)
