"""Weights for comparing models without downloads: Keras's own initializers for kernels, random
biases and batch-norm gamma/beta, and moving statistics measured on the input batch.

With Keras's zero biases and unit moving variances a deep random network's activations shrink
towards zero layer after layer (MobileNetV2: 1e-16 by block 16), where every comparison passes
trivially. Moving statistics taken from a training-mode pass over the same batch keep every
batch-normalized activation at unit scale, as a trained network's are.
"""
from __future__ import annotations

import numpy as np

DESCRIPTION = ("Keras initializers for kernels; biases U(-0.1, 0.1); BatchNormalization gamma "
               "U(0.5, 1.5), beta U(-0.1, 0.1), moving mean and variance the statistics of a "
               "training-mode pass over the input batch (seed {seed})")


def randomize(keras_model, x: np.ndarray, seed: int = 0) -> str:
    """Set the weights as described in ``DESCRIPTION``; return that description."""
    from parity.backends import tf as B
    from parity.model.keras_graph import weights_by_name

    keras, tf = B.keras(), B.tf()
    rng = np.random.default_rng(seed)
    bns = []
    for layer in keras_model.layers:
        named = weights_by_name(layer)
        if type(layer).__name__ == "BatchNormalization":
            bns.append(layer)
            for key, (lo, hi) in (("gamma", (0.5, 1.5)), ("beta", (-0.1, 0.1))):
                if key in named:
                    named[key].assign(rng.uniform(lo, hi, named[key].shape).astype("float32"))
        elif "bias" in named:
            named["bias"].assign(rng.uniform(-0.1, 0.1, named["bias"].shape).astype("float32"))
    if bns:
        probe = keras.Model(keras_model.inputs, [layer.input for layer in bns])
        ins = probe(tf.constant(x, dtype="float32"), training=True)
        for layer, inp in zip(bns, ins if isinstance(ins, (list, tuple)) else [ins]):
            a = np.asarray(inp, np.float64)
            keep = [ax % a.ndim for ax in (layer.axis if isinstance(layer.axis, (list, tuple))
                                           else [layer.axis])]
            axes = tuple(d for d in range(a.ndim) if d not in keep)
            dtype = layer.moving_mean.dtype
            layer.moving_mean.assign(a.mean(axis=axes).astype(dtype))
            layer.moving_variance.assign(a.var(axis=axes).astype(dtype))
    return DESCRIPTION.format(seed=seed)
