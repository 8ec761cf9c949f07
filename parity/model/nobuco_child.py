"""Run in nobuco's own interpreter (``parity.model.converters.nobuco_keras``):

    python -m parity.model.nobuco_child pkg.mod:builder SEED H,W,C OUT.h5

builds the torch module ``builder(SEED)``, converts it with ``nobuco.pytorch_to_keras``
(channels-last input and output) and saves the Keras 2 model to ``OUT.h5``. Imports torch,
nobuco and the builder's module only: that interpreter has Keras 2, not parity's dependencies.
"""
from __future__ import annotations

import importlib
import sys


def main(argv: list[str]) -> int:
    builder, seed, shape, out = argv
    import nobuco
    import torch
    from nobuco import ChannelOrder

    module_name, _, fn = builder.partition(":")
    module = getattr(importlib.import_module(module_name), fn)(int(seed)).eval()
    h, w, c = (int(v) for v in shape.split(","))
    x = torch.zeros(1, c, h, w).uniform_(-1, 1, generator=torch.Generator().manual_seed(0))
    keras_model = nobuco.pytorch_to_keras(module, args=[x],
                                          inputs_channel_order=ChannelOrder.TENSORFLOW,
                                          outputs_channel_order=ChannelOrder.TENSORFLOW)
    keras_model.save(out)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
