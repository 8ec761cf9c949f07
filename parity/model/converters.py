"""The two conversion pipelines users run on a model, run for real on a small CNN.

* Keras -> ONNX -> torch: ``tf2onnx.convert.from_keras`` then ``onnx2torch.convert`` (the
  ``[converters]`` extra: tf2onnx, onnx, onnx2torch; onnx2torch imports torchvision). The torch
  module takes channels-last input and transposes it itself; a BatchNormalization becomes
  ``x * scale + shift`` and a Dense ``x @ W + b``, their constants folded by tf2onnx in float32.
* torch -> Keras: nobuco's ``pytorch_to_keras``, which writes a Keras 2 (tf_keras) model:
  SAME-style padding as ``ZeroPadding2D`` + VALID, ReLU6 as ``tf.clip_by_value``, a transposed
  conv as VALID + a slice, ``Flatten`` as ``tf.reshape``. nobuco imports ``keras.src.engine``,
  i.e. Keras 2 as ``keras`` (TensorFlow <= 2.15), so it runs in its own interpreter, named by
  ``PARITY_NOBUCO_PYTHON`` (``make venv-converters`` builds one); the file it writes is read
  here by ``parity.model.legacy``.
"""
from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

from parity.model.errors import ModelError

NOBUCO_PYTHON = "PARITY_NOBUCO_PYTHON"
INPUT_SHAPE = (16, 16, 3)


def keras_cnn(head: str = "gap"):
    """A small Keras CNN with what converters rewrite: a stride-2 SAME conv (TF's uneven
    padding), BatchNormalization, a depthwise conv, SAME max pooling, a fused ReLU, global
    pooling (``head="flatten"``: a Flatten, which tf2onnx flattens channels-last) and a
    Dense."""
    from parity.backends import tf as B

    keras = B.keras()
    L = keras.layers
    inp = keras.Input(INPUT_SHAPE)
    y = L.Conv2D(8, 3, strides=2, padding="same", name="c1")(inp)
    y = L.BatchNormalization(name="bn1")(y)
    y = L.ReLU(name="r1")(y)
    y = L.DepthwiseConv2D(3, padding="same", name="dw")(y)
    y = L.MaxPooling2D(2, padding="same", name="pool")(y)
    y = L.Conv2D(16, 1, activation="relu", name="c2")(y)
    y = L.Flatten(name="flat")(y) if head == "flatten" else \
        L.GlobalAveragePooling2D(name="gap")(y)
    return keras.Model(inp, L.Dense(5, name="d")(y), name="converter_cnn")


def to_onnx(keras_model, opset: int = 17):
    """The ONNX model tf2onnx writes for ``keras_model`` (input channels-last, batch free)."""
    try:
        import tf2onnx
    except ImportError as e:
        raise ModelError(f"tf2onnx is not importable ({e}); pip install 'parity[converters]'") \
            from None
    from parity.backends import tf as B

    tf = B.tf()
    spec = (tf.TensorSpec((None, *keras_model.inputs[0].shape[1:]), tf.float32, name="x"),)
    proto, _ = tf2onnx.convert.from_keras(keras_model, input_signature=spec, opset=opset)
    return proto


def onnx_to_torch(proto):
    """onnx2torch's torch module (a ``torch.fx.GraphModule``) for the ONNX model ``proto``."""
    try:
        import onnx2torch
    except ImportError as e:
        raise ModelError(f"onnx2torch is not importable ({e}); pip install "
                         "'parity[converters]'") from None
    return onnx2torch.convert(proto).eval()


def symmetric_same_pads(proto):
    """``proto`` with each Conv's uneven SAME padding (TF puts the odd pixel at the end) made
    even on both sides: what a converter that writes ``padding=k//2`` produces."""
    for node in proto.graph.node:
        if node.op_type != "Conv":
            continue
        for a in node.attribute:
            if a.name == "pads":
                pads = list(a.ints)
                half = len(pads) // 2
                if pads[:half] != pads[half:]:
                    del a.ints[:]
                    a.ints.extend([max(pads)] * len(pads))
    return proto


def torch_cnn(seed: int = 0):
    """A small torch CNN of the kinds nobuco rewrites (padding=1 convs, BatchNorm2d with
    statistics that are not the defaults, a grouped conv, ReLU6, a stride-2 transposed conv
    with padding, global pooling, ``Flatten``, a ``Linear``), weights seeded."""
    import torch
    import torch.nn as nn

    torch.manual_seed(seed)
    m = nn.Sequential(
        nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8, eps=1e-3), nn.ReLU(),
        nn.Conv2d(8, 8, 3, padding=1, groups=8), nn.MaxPool2d(2),
        nn.Conv2d(8, 16, 3, stride=2, padding=1), nn.ReLU6(),
        nn.ConvTranspose2d(16, 4, 4, stride=2, padding=1),
        nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 3))
    bn = m[1]
    with torch.no_grad():
        bn.weight.uniform_(0.5, 1.5)
        bn.bias.uniform_(-0.5, 0.5)
        bn.running_mean.uniform_(-0.3, 0.3)
        bn.running_var.uniform_(0.5, 1.5)
    return m.eval()


def nobuco_python() -> str:
    """The interpreter that runs nobuco (``PARITY_NOBUCO_PYTHON``), checked."""
    python = os.environ.get(NOBUCO_PYTHON)
    if not python:
        raise ModelError(f"nobuco runs in an interpreter with Keras 2 as 'keras' (TensorFlow "
                         f"<= 2.15): set {NOBUCO_PYTHON} to its python (make venv-converters "
                         "builds one: .venv-nobuco/bin/python)")
    if not Path(python).exists():
        raise ModelError(f"{NOBUCO_PYTHON}={python}: no such file")
    return python


def nobuco_keras(builder: str = "parity.model.converters:torch_cnn", seed: int = 0,
                 out: str | None = None) -> str:
    """Convert the torch module ``builder(seed)`` with nobuco (channels-last input and output,
    as a Keras user runs it) in nobuco's interpreter; the path of the ``.h5`` file it wrote."""
    python = nobuco_python()
    out = out or str(Path(tempfile.mkdtemp(prefix="parity-nobuco-")) / "model.h5")
    root = str(Path(__file__).resolve().parents[2])
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [root, *filter(None, [os.environ.get("PYTHONPATH")])]))
    done = subprocess.run([python, "-m", "parity.model.nobuco_child", builder, str(seed),
                           ",".join(map(str, INPUT_SHAPE)), out], env=env,
                          capture_output=True, text=True, timeout=600)
    if done.returncode != 0 or not Path(out).exists():
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["no output"]
        raise ModelError(f"nobuco ({python}) failed to convert {builder}: {tail[0][:300]}")
    return out
