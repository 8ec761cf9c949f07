"""The Keras-layer runner (parity.ops.keras_layers) behind the keras_torch variants: the same
layer description on Keras's torch backend (a child with KERAS_BACKEND=torch) gives the op's
outputs in the canonical layout, and a description with a mistake in it is caught."""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

from parity.ops import conv, keras_layers
from parity.spec import registry

REPO = Path(__file__).resolve().parents[1]
CONFIG = {"rank": 2, "batch": 2, "in_channels": 3, "out_channels": 4, "spatial": [7, 6],
          "kernel": [3, 2], "stride": [2, 1], "dilation": [1, 1], "groups": 1, "bias": True,
          "dtype": "float64"}
CHILD = r"""
import json, sys
import numpy as np
from parity.core import layout
from parity.ops import conv, keras_layers
from parity.spec import registry

op = registry.get("conv2d_same")
c = op.parse_config(json.loads(sys.argv[1]))
inp = op.make_inputs(c, 0)
right = conv.keras_layer()
# a mistake a port makes: the torch kernel (out, in, kh, kw) reshaped into Keras's layout
wrong = keras_layers.KerasLayer(
    right.build, weights=lambda c, inp: [inp["w"].reshape(layout.kernel_torch_to_tf(inp["w"]).shape),
                                         inp["b"]], grads=right.grads)
out = {}
for name, spec in (("right", right), ("wrong", wrong)):
    out.update({f"{name}:{k}": v for k, v in keras_layers.on_torch(spec, c, inp).items()})
np.savez(sys.argv[2], **out)
"""


def _on_keras_torch(tmp_path):
    import json

    path = tmp_path / "out.npz"
    env = dict(os.environ, KERAS_BACKEND="torch", PYTHONPATH=str(REPO))
    subprocess.run([sys.executable, "-c", CHILD, json.dumps(CONFIG), str(path)], check=True,
                   env=env, cwd=tmp_path, capture_output=True)
    return dict(np.load(path))


def test_the_layer_on_keras_torch_matches_the_reference_and_a_wrong_kernel_layout_is_caught(
        tmp_path):
    op = registry.get("conv2d_same")
    c = op.parse_config(CONFIG)
    inp = op.make_inputs(c, 0)
    ref, bounds = op.reference(c, inp)
    got = _on_keras_torch(tmp_path)
    for name in ("y", "dx", "dw", "db"):
        assert np.all(np.abs(got[f"right:{name}"] - ref[name]) <= bounds[name]), name
    assert np.abs(got["wrong:y"] - ref["y"]).max() > 100 * bounds["y"].max()
    # and on TensorFlow the same description gives the same answer (the op's keras side)
    tf_out = keras_layers.on_tf(conv.keras_layer(), c, inp)
    for name in ("y", "dx", "dw", "db"):
        assert np.all(np.abs(tf_out[name] - ref[name]) <= bounds[name]), name
