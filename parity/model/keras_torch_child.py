"""The torch-backend side of ``parity model --against keras-torch``: the same ``.keras`` file
loaded by Keras 3 on its torch backend, in a process of its own (Keras picks its backend once
per process: ``KERAS_BACKEND=torch`` is set by the parent), every layer's output in one run
(propagated) and every layer called alone on the TensorFlow side's exact inputs (isolated), in
float32 and float64 (a float64 clone with the same weights). Keras's ``result_type`` maps
float64 to float32 on every backend but TensorFlow (``BIT64_TO_BIT32_DTYPE``:
BatchNormalization, ``ops.matmul``, ``ops.mean`` then compute a float64 model in float32); the
float64 run is parity's reference, so it maps float64 to itself, and what Keras does unpatched
is reported (``meta::result_type``).

Run as ``python -m parity.exec.target parity.model.keras_torch_child:run '{...}'``; the arrays
travel in ``.npz`` files: ``data`` holds ``x`` (the model's input) and ``iso::DTYPE::LAYER::I``
(the TF side's inputs of each layer), ``out`` receives ``prop::DTYPE::LAYER`` and
``iso::DTYPE::LAYER`` (or ``err::DTYPE::LAYER``, a layer refusing its input).
"""
from __future__ import annotations

SEP = "::"


def run(model: str, data: str, out: str, dtypes: list[str]) -> int:
    import warnings

    import numpy as np

    from parity.backends import torch as B

    B.torch()   # parity's thread settings before Keras loads torch's kernels
    import keras

    if keras.backend.backend() != "torch":
        raise ValueError(f"Keras runs on {keras.backend.backend()}, not torch: "
                         "KERAS_BACKEND=torch must be set before Keras loads")
    from parity.model.keras_graph import float64_clone

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        loaded = _load(keras, model)
    given = np.load(data)
    # what Keras computes a float64 layer in on this backend (BatchNormalization casts to
    # result_type(inputs.dtype, "float32"), ops.matmul to result_type of its operands)
    found = {SEP.join(("meta", "result_type")): np.array(
        str(keras.backend.result_type("float64", "float32"))),
        SEP.join(("meta", "keras")): np.array(keras.__version__)}
    from keras.src.backend.common import dtypes as keras_dtypes

    for dt in dtypes:
        if dt == "float64":   # the reference run: float64 kept where Keras maps it to float32
            keras_dtypes.BIT64_TO_BIT32_DTYPE["float64"] = "float64"
        m = loaded if dt == "float32" else float64_clone(keras, loaded)
        layers = [layer for layer in m.layers if type(layer).__name__ != "InputLayer"]
        probe = keras.Model(m.inputs, {layer.name: layer.output for layer in layers})
        outs = probe(given["x"].astype(dt), training=False)
        for name, value in outs.items():
            found[SEP.join(("prop", dt, name))] = keras.ops.convert_to_numpy(value)
        for layer in layers:
            args = [given[k] for k in sorted(
                (k for k in given.files if k.startswith(SEP.join(("iso", dt, layer.name, "")))),
                key=lambda k: int(k.rsplit(SEP, 1)[1]))]
            if not args:
                continue
            try:
                y = layer(args if len(args) > 1 else args[0])
                found[SEP.join(("iso", dt, layer.name))] = keras.ops.convert_to_numpy(y)
            except Exception as e:  # noqa: BLE001 - the layer refusing the TF side's input
                found[SEP.join(("err", dt, layer.name))] = np.array(
                    f"{type(e).__name__}: {str(e).splitlines()[0][:200]}")
    np.savez(out, **found)
    return 0


def train(model: str, data: str, out: str, dtypes: list[str], loss: str, optimizer: str,
          hyper: dict, steps: int) -> int:
    """The training step of ``parity.model.keras_backend_step`` on the torch backend, in each
    dtype (float64 kept float64 as in ``run``): ``fwd::DTYPE::LAYER``,
    ``grad::DTYPE::LAYER::WEIGHT``, ``loss::DTYPE::STEP``, ``after::DTYPE::STEP::LAYER::WEIGHT``
    (``meta::keras`` too)."""
    import warnings

    import numpy as np

    from parity.backends import keras_torch as K
    from parity.model import keras_backend_step as step
    from parity.model.keras_graph import float64_clone

    keras = K.keras()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        loaded = _load(keras, model)
    given = np.load(data)
    found = {SEP.join(("meta", "keras")): np.array(keras.__version__)}
    from keras.src.backend.common import dtypes as keras_dtypes

    for dt in dtypes:
        if dt == "float64":
            keras_dtypes.BIT64_TO_BIT32_DTYPE["float64"] = "float64"
        m = loaded if dt == "float32" else float64_clone(keras, loaded)
        rec = step.run(keras, m, given["x"].astype(dt), given["y"].astype(dt), loss, optimizer,
                       hyper, steps, step.torch_gradients, dt)
        found.update({SEP.join(("fwd", dt, n)): v for n, v in rec["forward"].items()})
        found.update({SEP.join(("grad", dt, *k)): v for k, v in rec["gradient"].items()})
        for s, h in enumerate(rec["history"]):
            found[SEP.join(("loss", dt, str(s)))] = np.array(h["loss"])
            found.update({SEP.join(("after", dt, str(s), *k)): v for k, v in h["after"].items()})
    np.savez(out, **found)
    return 0


def _load(keras, model: str):
    """The ``.keras`` file, or, where this Keras version cannot read the file's configuration
    (an initializer argument another version added), its architecture with every initializer
    replaced by ``Zeros`` and the file's weights loaded into it: the weights are what runs."""
    import json
    import zipfile

    try:
        return keras.saving.load_model(model, compile=False)
    except (TypeError, ValueError):
        pass
    with zipfile.ZipFile(model) as z:
        config = json.loads(z.read("config.json"))
        weights = z.read("model.weights.h5")

    def plain(node):
        if isinstance(node, dict):
            return {k: ({"module": "keras.initializers", "class_name": "Zeros", "config": {},
                         "registered_name": None}
                        if k.endswith("_initializer") and isinstance(v, dict) else plain(v))
                    for k, v in node.items()}
        return [plain(v) for v in node] if isinstance(node, list) else node
    rebuilt = keras.models.model_from_json(json.dumps(plain(config)))
    path = model + ".weights.h5"
    with open(path, "wb") as f:
        f.write(weights)
    rebuilt.load_weights(path)
    return rebuilt
