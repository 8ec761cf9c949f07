"""The Keras model of seeds/001 against the PyTorch code offered as its equivalent, layer by layer.

Both run in float64, eval mode, on the same seeded input, with every weight transferred that
can be. A third, corrected torch model (built from ``parity.ports`` and a per-row batch norm)
shows what equivalence takes. ``python cases/seed001_model.py`` prints the table;
``cases/test_seed001_model.py`` asserts the measured facts.
"""
from __future__ import annotations

import numpy as np

from parity.core import layout
from parity.model.zoo_seed001 import keras_model, offered_torch_model  # noqa: F401

LAYERS = ["conv2d_1", "batch_normalization_1", "activation_1", "dropout_1", "conv2d_2",
          "batch_normalization_2", "activation_2", "max_pooling2d_1"]


def corrected_torch_model(keras):
    """What equals the Keras model: valid conv with bias, batch norm over rows (eps 1e-3)."""
    import torch
    import torch.nn as nn

    from parity.ports import Conv2dSame, MaxPool2dSame

    class RowBatchNorm(nn.Module):
        """Keras BatchNormalization(axis=1) on NHWC: one statistic per row h (dim 2 in NCHW)."""

        def __init__(self, bn):
            super().__init__()
            g, b, m, v = (torch.tensor(w) for w in bn.get_weights())
            self.scale = g / torch.sqrt(v + bn.epsilon)
            self.shift = b - m * self.scale

        def forward(self, x):
            return x * self.scale[:, None] + self.shift[:, None]

    k = keras.layers
    conv1 = nn.Conv2d(3, 64, 3).double()
    conv2 = Conv2dSame(64, 64, 3).double()
    for conv, layer in ((conv1, k[0]), (conv2, k[4])):
        w, b = layer.get_weights()
        conv.weight.data = torch.tensor(layout.kernel_tf_to_torch(w).copy())
        conv.bias.data = torch.tensor(b)
    return nn.Sequential(conv1, RowBatchNorm(k[1]), nn.ReLU(), nn.Dropout(0.3), conv2,
                         RowBatchNorm(k[5]), nn.ReLU(), MaxPool2dSame(2, 2)).eval()


def transfer_offered(offered, keras):
    """Copy what fits: conv kernels (the Keras biases have nowhere to go); batch-norm parameters
    do not fit (Keras keeps 30 per-row values, torch 64 per-channel ones) and stay at torch's
    defaults. Returns the list of what could not be transferred."""
    import torch

    lost = []
    for t_idx, k_idx in ((0, 0), (4, 4)):
        w, b = keras.layers[k_idx].get_weights()
        offered[t_idx].weight.data = torch.tensor(layout.kernel_tf_to_torch(w).copy())
        lost.append(f"{LAYERS[k_idx]} bias ({b.size} values): the torch conv has bias=False")
    for k_idx in (1, 5):
        n = keras.layers[k_idx].get_weights()[0].size
        lost.append(f"{LAYERS[k_idx]}: Keras axis=1 keeps {n} per-row statistics, "
                    "BatchNorm2d(64) 64 per-channel ones (eps 1e-3 vs 1e-5)")
    return lost


def compare(seed: int = 0) -> dict:
    """Per layer: shapes and max |difference| of the offered and corrected torch models to Keras."""
    import torch

    rng = np.random.default_rng(seed)
    keras = keras_model(rng)
    x = rng.uniform(-1, 1, (2, 32, 32, 3))
    offered, corrected = offered_torch_model(), corrected_torch_model(keras)
    lost = transfer_offered(offered, keras)
    offered.eval()
    from parity.backends import tf as B

    k_outs, h = [], B.tf().constant(x)
    for layer in keras.layers:
        h = layer(h, training=False) if "training" in layer.call.__code__.co_varnames else layer(h)
        k_outs.append(layout.channels_last_to_first(h.numpy()))
    rows = []
    for name, inp in (("offered", x), ("offered_30x30", x[:, 1:31, 1:31, :]), ("corrected", x)):
        model = corrected if name == "corrected" else offered
        t = torch.tensor(layout.channels_last_to_first(inp).copy())
        with torch.no_grad():
            for i, module in enumerate(model):
                t = module(t)
                ko = k_outs[i]
                same = tuple(t.shape) == ko.shape
                rows.append({"model": name, "layer": LAYERS[i], "keras_shape": list(ko.shape),
                             "torch_shape": list(t.shape), "shape_match": same,
                             "max_abs_diff": float(np.abs(t.numpy() - ko).max()) if same else None})
    return {"rows": rows, "not_transferred": lost}


if __name__ == "__main__":
    result = compare()
    print(f"{'model':<14}{'layer':<24}{'keras (NCHW)':<20}{'torch':<20}max |diff|")
    for r in result["rows"]:
        d = "-" if r["max_abs_diff"] is None else f"{r['max_abs_diff']:.3g}"
        print(f"{r['model']:<14}{r['layer']:<24}{str(r['keras_shape']):<20}"
              f"{str(r['torch_shape']):<20}{d}")
    print("not transferable to the offered model:", *result["not_transferred"], sep="\n  ")
