"""``compare_backends``: a Keras model on TensorFlow against the same model (its ``.keras``
file, its weights) on Keras's torch backend, layer by layer, matched by name.

The torch-backend side runs in a child process with ``KERAS_BACKEND=torch``
(``keras_torch_child``), the mechanism the ``keras_torch`` op variant uses: Keras picks its
backend once per process. Both sides are channels-last. Each layer is compared isolated (the
torch-backend layer fed the TF-backend layer's exact inputs) and propagated (the whole model
on each backend), in float32 and float64, against the bounds ``compare`` uses for a torch
module: the isolated bound of the layer's own roundings, the propagated one from both runs'
float32-vs-float64 drift. The first diverging layer's cause is the matching op pair's sides run
on that layer's exact config (``diagnose.mechanism``): the ``keras_torch`` variant reproducing
the torch backend names the registry entry. Returns the report's ``model`` section, as
``compare`` does.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from parity.core.layout import torch_layout
from parity.core.tolerance import compare_output
from parity.model import bounds, carry, diagnose, training_optim
from parity.model.core import _metrics, _verdict, _diverges
from parity.model.errors import ModelError
from parity.model.keras_graph import KerasGraph, weights_by_name
from parity.model.keras_torch_child import SEP
from parity.model.matching import model_inputs

FLOAT64_NOTE = (
    "Keras's result_type maps float64 to float32 on every backend but TensorFlow "
    "(keras/src/backend/common/dtypes.py, BIT64_TO_BIT32_DTYPE): BatchNormalization computes in "
    "result_type(inputs.dtype, 'float32'), ops.matmul (Dense) and ops.mean (global pooling) in "
    "result_type of their operands, so a float64 model runs those layers in float32 on the "
    "torch backend; parity's float64 run there keeps float64 (a reference, not what a float64 "
    "user gets)")
"""Measured on Keras 3.15.1 unpatched: a float64 BatchNormalization off by 3.4e-7, a float64
Dense of 96 inputs by 1.9e-6, both float32-sized."""
CHILD_TIMEOUT_S = 1800


PYTHON_ENV = "PARITY_KERAS_TORCH_PYTHON"
"""An interpreter for the torch-backend side (default: this one): another Keras version's
environment, with torch, Keras and NumPy; parity is found through ``PYTHONPATH``."""


def _child(function: str, args: dict) -> None:
    """``keras_torch_child.<function>(**args)`` in a child with ``KERAS_BACKEND=torch``."""
    root = str(Path(__file__).resolve().parents[2])
    env = dict(os.environ, KERAS_BACKEND="torch",
               PYTHONPATH=os.pathsep.join(filter(None, (root, os.environ.get("PYTHONPATH")))))
    python = os.environ.get(PYTHON_ENV) or sys.executable
    done = subprocess.run([python, "-m", "parity.exec.target",
                           f"parity.model.keras_torch_child:{function}", json.dumps(args)],
                          env=env, capture_output=True, text=True, timeout=CHILD_TIMEOUT_S)
    if done.returncode != 0:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise ModelError(f"Keras on the torch backend failed (exit {done.returncode}): "
                         f"{tail[:300]}")


def compare_backends(keras_model, inputs=None, *, dtypes=("float32", "float64"),
                     batch: int = 2, seed: int = 0, explain: bool = True,
                     weights: str | None = None, stop=None, train: dict | None = None) -> dict:
    """``keras_model`` (built, on TensorFlow) against itself on Keras's torch backend;
    ``train``: also ``train_on_batch`` on each backend (``keras_backends_train``: ``loss``,
    ``optimizer``, its hyperparameters, ``steps``, ``inputs``), in ``training``."""
    t0 = time.perf_counter()
    train = None if train is None else _train_options(train)
    dtypes = tuple(dict.fromkeys(("float32", *dtypes)))
    kg = KerasGraph(keras_model)
    x = model_inputs(kg, inputs, batch, seed)
    kouts = {dt: kg.run(x.astype(dt), dt) for dt in dtypes}
    t_tf = time.perf_counter() - t0
    with tempfile.TemporaryDirectory(prefix="parity-keras-torch-") as tmp:
        path = Path(tmp) / "model.keras"
        try:
            keras_model.save(path)
        except Exception as e:  # noqa: BLE001 - a layer Keras cannot serialize
            raise ModelError(f"the Keras model cannot be saved for the torch backend: "
                             f"{type(e).__name__}: {str(e).splitlines()[0][:200]}") from None
        given = {"x": x.astype(np.float32)}
        for dt in dtypes:
            for layer in kg.layers:
                for i, a in enumerate(kg.layer_inputs(layer.name, kouts[dt])):
                    given[SEP.join(("iso", dt, layer.name, str(i)))] = a
        np.savez(Path(tmp) / "data.npz", **given)
        _child("run", {"model": str(path), "data": str(Path(tmp) / "data.npz"),
                       "out": str(Path(tmp) / "out.npz"), "dtypes": list(dtypes)})
        with np.load(Path(tmp) / "out.npz") as f:
            theirs = {k: f[k] for k in f.files}
        training = None if train is None else _train(keras_model, x, train, seed, Path(tmp),
                                                     path)
    t_torch = time.perf_counter() - t0 - t_tf
    rows, stopped_at = [], None
    for layer in kg.layers:
        name = layer.name
        if stop is not None and stop():
            stopped_at = name
            break
        rows.append(_row(kg, name, kouts, theirs, dtypes))
    float64_kept = str(theirs.get(SEP.join(("meta", "result_type")), "")) == "float64"
    verdict = _verdict(rows)
    verdict["float32"] = _verdict([dict(r, verdict="diverges" if _diverges(
        r["isolated"]["float32"]) else "propagated" if _diverges(r["propagated"].get(
            "float32")) else "pass") for r in rows])["status"]
    if explain and stopped_at is None and verdict["first_diverging"]:
        row = next(r for r in rows if r["layer"] == verdict["first_diverging"])
        child = str(theirs.get(SEP.join(("meta", "keras")), ""))
        row["cause"] = verdict["cause"] = _cause(kg, row, kouts, child)
    for r in rows:
        r.pop("_iso", None)
    last = kg.layers[-1].name
    output = {}
    for dt in dtypes:
        t = theirs.get(SEP.join(("prop", dt, last)))
        m = compare_output(kouts[dt][last], t, kouts["float64"][last] if "float64" in kouts
                           else kouts[dt][last], np.full(np.shape(kouts[dt][last]), np.inf))
        output[dt] = {"max_abs_diff": m["max_abs_diff"], "max_rel_diff": m["max_rel_diff"],
                      "shape_match": m["shape_match"],
                      "minimum_tolerance": {"atol": m["max_abs_diff"],
                                            "rtol": m["max_rel_diff"]}}
    n_weights = len(keras_model.weights)
    return ({} if stopped_at is None else {"stopped_at": stopped_at}) | {
        "keras_model": getattr(keras_model, "name", type(keras_model).__name__),
        "torch_module": "the same Keras model on Keras's torch backend",
        "against": "keras-torch", "input_shape": list(x.shape), "seed": seed,
        "torch_backend": {"keras": str(theirs.get(SEP.join(("meta", "keras")), "")),
                          "float64": float64_kept,
                          "note": None if float64_kept else FLOAT64_NOTE},
        "dtypes": list(dtypes),
        "weights": weights or "the Keras model's own, on both backends (the saved file)",
        "carry_weights": False, "carry_direction": "none", "channels_first": False,
        "input_layout": "nhwc", "layers_total": len(kg.layers), "layers_compared": len(rows),
        "not_compared": [], "carry": {"keras_weights": n_weights, "torch_parameters": n_weights,
                                      "torch_buffers": 0, "keras_unmatched": [],
                                      "torch_unmatched": [], "keras_unmatched_count": 0,
                                      "torch_unmatched_count": 0, "problems": []},
        "layers": rows, "verdict": verdict, "output": output,
        "seconds": {"setup": round(t_tf, 3), "runs": round(t_torch, 3),
                    "total": round(time.perf_counter() - t0, 3)}} | (
        {} if training is None else {"training": training})


def _train_options(train: dict) -> dict:
    """The training options checked before anything runs (``ModelError`` if bad)."""
    from parity.model.training import LOSSES

    train = {k: v for k, v in train.items() if v is not None}
    if train.pop("torch_optimizer", None) is not None:
        raise ModelError("--torch-optimizer does not apply to --against keras-torch: both "
                         "backends run the Keras optimizer")
    if train.pop("keras_step", "train_on_batch") != "train_on_batch":
        raise ModelError("--against keras-torch trains with train_on_batch on both backends "
                         "(--keras-step tape does not apply)")
    loss = train.setdefault("loss", "mse")
    if loss not in LOSSES:
        raise ModelError(f"loss must be one of {', '.join(LOSSES)}, got {loss!r}")
    steps = train.get("steps", 1)
    if not (isinstance(steps, int) and steps >= 1):
        raise ModelError(f"steps must be a positive integer, got {steps!r}")
    training_optim.hyperparameters(train.get("optimizer", "sgd"), train)
    return train


def _train(keras_model, x, train: dict, seed: int, tmp: Path, path: Path) -> dict:
    """The ``training`` section: one Keras training step on each backend, compared."""
    from parity.model.keras_backends_train import step_backends
    from parity.model.training import targets_for

    xt = np.asarray(train.pop("inputs", x), np.float32)
    y = targets_for(keras_model, xt, train["loss"], seed)
    return step_backends(keras_model, xt, y, tmp, path, _child, **train)


def _row(kg, name: str, kouts: dict, theirs: dict, dtypes) -> dict:
    layer = kg.by_name[name]
    row = {"layer": name, "type": type(layer).__name__, "kind": kg.kind(name), "torch": [name],
           "shape": list(np.shape(kouts["float32"][name])), "isolated": {}, "propagated": {},
           "hyperparameters": [], "weights": []}
    iso64_max = 0.0
    for dt in sorted(dtypes, key=lambda d: d != "float64"):   # float64 first: its bound
        k_in = kg.layer_inputs(name, kouts[dt])
        ref = kg.call_layer(name, [a.astype(np.float64) for a in k_in], "float64")
        bound = bounds.isolated(kg, name, k_in, ref, dt)
        if dt == "float64":
            iso64_max = float(np.max(bound, initial=0.0))
        err = theirs.get(SEP.join(("err", dt, name)))
        if err is not None:
            row.setdefault("errors", []).append(f"{dt} isolated: {err}")
        t_iso = theirs.get(SEP.join(("iso", dt, name)))
        row["isolated"][dt] = _metrics(compare_output(kouts[dt][name], t_iso, ref, bound))
        row.setdefault("_iso", {})[dt] = (k_in, t_iso, bound)
    if "float64" in dtypes:
        k32, k64 = kouts["float32"][name], kouts["float64"][name]
        t32, t64 = (theirs.get(SEP.join(("prop", d, name))) for d in ("float32", "float64"))
        if t32 is not None and t64 is not None and \
                np.shape(k32) == np.shape(t32) == np.shape(t64):
            b64 = bounds.propagated64(k32, k64, t32, t64, iso64_max)
            row["propagated"]["float64"] = _metrics(compare_output(k64, t64, k64,
                                                                   np.full(k64.shape, b64)))
            row["propagated"]["float32"] = _metrics(compare_output(
                k32, t32, k64, np.full(k32.shape, bounds.propagated32(k32, k64, t32, t64, b64))))
            row["drift"] = {"keras": float(np.max(np.abs(k32 - k64), initial=0.0)),
                            "torch": float(np.max(np.abs(t32 - t64), initial=0.0))}
        else:
            for d in ("float32", "float64"):
                row["propagated"][d] = _metrics(compare_output(
                    k32, t32 if d == "float32" else t64, k64, np.zeros(np.shape(k64))))
    row["verdict"] = "diverges" if any(_diverges(m) for m in row["isolated"].values()) else \
        ("propagated" if any(_diverges(m) for m in row["propagated"].values()) else "pass")
    return row


def _cause(kg, row: dict, kouts: dict, child_keras: str) -> dict:
    """The op pair of the layer run on its exact config: which side, ``keras_torch`` among
    them, computes as the torch backend did, and the registry entry that explains it."""
    name = row["layer"]
    dt = "float64" if "float64" in row["_iso"] else "float32"
    k_in, t_iso, bound = row["_iso"][dt]
    cause = {"layer": name}
    if t_iso is not None and np.asarray(t_iso).dtype != np.dtype(dt):
        text = f"the torch backend computes this {dt} layer in {np.asarray(t_iso).dtype}"
        if kg.kind(name) == "dense":
            text += (" (keras.src.backend.torch.numpy.matmul, which Dense calls, casts both "
                     "operands to keras.backend.result_type of theirs, and result_type maps "
                     "64-bit dtypes to 32-bit)")
    elif t_iso is None:
        text = "the torch backend refused the layer's input: " + "; ".join(row.get("errors", []))
    elif type(kg.by_name[name]).__name__ == "Rescaling" and dt == "float64":
        text = _rescaling(kg.by_name[name], k_in[0], kouts[dt][name], t_iso)
    elif len(k_in) == 1 and np.shape(t_iso) == np.shape(kouts[dt][name]):
        if kg.kind(name) == "batchnorm":   # the op pair reads Keras's names
            have = {(0, short): w.numpy().astype(np.float64)
                    for short, w in weights_by_name(kg.by_name[name]).items()}
        else:
            have = carry.expected(kg, name, [], True)
        cause["op_pair"] = diagnose.mechanism(
            kg, name, torch_layout(k_in[0], True).astype(np.float64),
            torch_layout(t_iso, True).astype(np.float64), torch_layout(bound, True), have, dt)
        text = cause["op_pair"]["text"]
        from parity.backends import tf as B

        here = B.keras().__version__
        if cause["op_pair"].get("op") and not cause["op_pair"].get("behaves_like"):
            text = (_keras_torch_variant(cause["op_pair"]) or text) if child_keras == here else (
                f"{text}; the op pair's keras_torch variant runs this environment's Keras "
                f"{here}, not the torch side's {child_keras}: not run")
    else:
        text = (f"output shape {list(np.shape(t_iso))} on the torch backend, "
                f"{list(np.shape(kouts[dt][name]))} on TensorFlow")
    iso = row["isolated"]
    if not _diverges(iso.get("float32")) and _diverges(iso.get("float64")):
        text = "float64 only (float32 agrees): " + text
    cause["text"] = f"{name} ({row['type']}): {text}"
    return cause


def _rescaling(layer, x, tf_y, torch_y) -> str:
    """A float64 Rescaling (``x * scale + offset``) replayed with its constants as given and
    rounded to float32: which one each backend computes."""
    cfg = layer.get_config()
    x = np.asarray(x, np.float64)
    replays = {"as given": x * cfg["scale"] + cfg["offset"],
               "rounded to float32": x * float(np.float32(cfg["scale"])) +
               float(np.float32(cfg["offset"]))}
    parts = []
    for side, y in (("TensorFlow", tf_y), ("the torch backend", torch_y)):
        errs = {k: float(np.max(np.abs(np.asarray(y, np.float64) - r), initial=0.0))
                for k, r in replays.items()}
        best = min(errs, key=errs.get)
        parts.append(f"{side} computes x * scale + offset with the constants {best} (off "
                     f"{errs[best]:.3g}; the other way {max(errs.values()):.3g})")
    return (f"replayed in float64 (scale {cfg['scale']!r}, offset {cfg['offset']!r}): "
            + "; ".join(parts))


def _keras_torch_variant(op_pair: dict) -> str | None:
    """The op pair's ``keras_torch`` variant run on the layer's exact config (in its worker
    process, ``KERAS_BACKEND=torch``): the registry entry that explains it there, if any, with
    its repro snippet in ``op_pair``."""
    from parity.exec.runner import repro_snippet, run_case
    from parity.spec.divergences import Registry
    from parity.spec.registry import get

    op_name, cfg = op_pair["op"], op_pair["config"]
    if "keras_torch" not in get(op_name).variants:
        return None
    registry = Registry.load()
    record = run_case(op_name, "keras_torch", cfg, seed=0, divergences=registry)
    entry = registry.get(record["divergence"]) if record["divergence"] else None
    op_pair.update(status=record["status"], behaves_like="keras_torch",
                   repro=repro_snippet(op_name, "keras_torch", cfg, 0, None))
    if entry is None:
        return (f"{op_name}'s keras_torch side on this layer's config ends "
                f"{record['status']} with no registered mechanism")
    op_pair["divergence"] = {"id": entry.id, "mechanism": " ".join(entry.mechanism.split())}
    return f"{op_name}'s keras_torch side on this layer's config: {entry.id}"
