"""``parity model --against keras-torch --train``: the same Keras model trained on TensorFlow and
on Keras's torch backend (``keras_backend_step`` on each, the torch side in the child), compared
quantity by quantity as ``parity.model.training`` compares a Keras model with a torch module:
every layer's output in training mode (``forward``), the loss, every weight's gradient
(``backward``), the moving statistics and every weight after ``train_on_batch`` (``statistics``,
``update``), over ``steps`` steps the loss and the weights after each. Each quantity is judged
by ``training_judge.judge`` (TF's float32/float64 against the torch backend's; the float64 bound
at least what TF's own float64 run moves by from weights nudged by one rounding).
"""
from __future__ import annotations

import json
import re
import time
from pathlib import Path

import numpy as np

from parity.model import keras_backend_step as step
from parity.model import training_optim
from parity.model.keras_graph import float64_clone
from parity.model.keras_torch_child import SEP
from parity.model.training import _verdict, diverges, judge
from parity.model.training_judge import minimum_tolerance
from parity.model.training_keras import KERAS_RANDOM, nudge_weights

STATISTICS = ("moving_mean", "moving_variance")
RUNS = ("float32", "float64", "nudged")
"""TF's runs: float32, float64, and float64 from weights nudged by one rounding."""


def step_backends(keras_model, x, y, tmp: Path, model_path: Path, child, *, loss: str = "mse",
                  optimizer: str = "sgd", steps: int = 1, **given) -> dict:
    """The report's ``training`` section; ``child(function, args)`` runs the torch side."""
    from parity.backends import tf as B

    t0 = time.perf_counter()
    hyper = training_optim.hyperparameters(optimizer, given)
    keras = B.keras()
    mine = {}
    for dt, nudged in (("float32", False), ("float64", False), ("nudged", True)):
        d = "float32" if dt == "float32" else "float64"
        m = keras_model if d == "float32" else float64_clone(keras, keras_model)
        if nudged:
            nudge_weights(keras, m)
        mine[dt] = step.run(keras, m, x.astype(d), y.astype(d), loss, optimizer, hyper, steps,
                            step.tf_gradients, d)
    t_tf = time.perf_counter() - t0
    np.savez(tmp / "train.npz", x=x.astype(np.float32), y=y.astype(np.float32))
    child("train", {"model": str(model_path), "data": str(tmp / "train.npz"),
                    "out": str(tmp / "trained.npz"), "dtypes": ["float32", "float64"],
                    "loss": loss, "optimizer": optimizer, "hyper": json.loads(json.dumps(hyper)),
                    "steps": steps})
    with np.load(tmp / "trained.npz") as f:
        theirs = {k: f[k] for k in f.files}
    t_torch = time.perf_counter() - t0 - t_tf
    rows = _rows(mine, theirs)
    history = _history(mine, theirs, steps)
    verdict = _verdict(rows, history)
    for first in verdict["first_by_stage"].values():
        if first.get("torch") is None:
            first.pop("torch", None)
        first["cause"] = _cause(keras_model, first, mine, rows, x, theirs, (optimizer, hyper))
    if verdict["first_diverging"]:
        stage = next(r["stage"] for r in rows if diverges(r))
        verdict["cause"] = verdict["first_by_stage"][stage]["cause"]
    return {"loss": loss, "optimizer": optimizer, "hyperparameters": hyper, "steps": steps,
            "keras_step": "train_on_batch", "torch_optimizer": "the same Keras optimizer on "
            "Keras's torch backend", "optimizer_settings": [],
            "random_layers": sorted(layer.name for layer in keras_model.layers
                                    if type(layer).__name__ in KERAS_RANDOM),
            "random_layers_note": "made the identity on both backends during the step",
            "not_compared_per_layer": {}, "quantities": rows, "history": history,
            "verdict": verdict, "minimum_tolerance": minimum_tolerance(rows),
            "torch_keras": str(theirs.get(SEP.join(("meta", "keras")), "")),
            "seconds": {"tensorflow": round(t_tf, 3), "torch_backend": round(t_torch, 3),
                        "total": round(time.perf_counter() - t0, 3)}}


def _theirs(theirs: dict, *key):
    return {dt: theirs.get(SEP.join((key[0], dt, *key[1:]))) for dt in ("float32", "float64")}


ACCURACY_FACTOR = 10.0
"""A layer's forward value in training mode (both backends run the same Keras layer): the torch
backend's float32 error (against its own float64) may not exceed this many times TensorFlow's
largest, plus a rounding of the value. ``judge``'s float32 bound is the two errors' sum, which a
side with an unstable float32 algorithm (an error far larger than the other's: the torch
backend's E[x^2] - E[x]^2 batch variance) would pass on its own drift. Only the torch backend,
the side under test, fails it (TensorFlow less accurate is reported, ``less_accurate``), and
only forward values: gradients and weights carry summation noise whose size differs between
the backends' kernels (measured on unet-keras-torch: TF's float32 gradients up to 250 times
further from its float64 than the torch backend's, the torch backend's weights after a second
SGD step 28 times further than TF's), so there the sum stays the bound."""


def accuracy(k32, k64, t32, t64) -> dict:
    """The float32 accuracy check of one quantity: each backend's largest error against its
    own float64; ``beyond``: the torch backend's elements over ``ACCURACY_FACTOR`` times TF's
    largest; ``less_accurate``: the side whose elements exceed that of the other's."""
    from parity.core.numerics import tiny, unit_roundoff
    from parity.model.bounds import ROUNDING_C

    k32, k64, t32, t64 = (np.asarray(a, np.float64) for a in (k32, k64, t32, t64))
    ek, et = np.abs(k32 - k64), np.abs(t32 - t64)
    floor = ROUNDING_C * unit_roundoff("float32") * np.abs(k64) + tiny("float32")
    over_t = int(np.sum(et > ACCURACY_FACTOR * float(np.max(ek, initial=0.0)) + floor))
    over_k = int(np.sum(ek > ACCURACY_FACTOR * float(np.max(et, initial=0.0)) + floor))
    return {"tensorflow": float(np.max(ek, initial=0.0)),
            "torch_backend": float(np.max(et, initial=0.0)), "beyond": over_t,
            "less_accurate": "torch backend" if over_t else "tensorflow" if over_k else None}


def _row(stage, kind, layer, weight, k: dict, t: dict, own64=None) -> dict:
    row = {"stage": stage, "kind": kind, "layer": layer, "weight": weight}
    if t["float32"] is None or t["float64"] is None:
        m = {"shape_match": False, "max_abs_diff": None, "bound_ratio": None, "mismatched": 0}
        return row | {"float32": m, "float64": dict(m), "error": "not on the torch backend"}
    row |= judge(k["float32"], k["float64"], t["float32"], t["float64"], own64)
    if stage == "forward" and np.shape(k["float32"]) == np.shape(t["float32"]):
        acc = row["float32_accuracy"] = accuracy(k["float32"], k["float64"], t["float32"],
                                                 t["float64"])
        row["float32"]["mismatched"] += acc["beyond"]
    return row


def _rows(mine: dict, theirs: dict) -> list:
    k32, k64, nudged = mine["float32"], mine["float64"], mine["nudged"]
    rows = [_row("forward", "forward", n, None, {"float32": v, "float64": k64["forward"][n]},
                 _theirs(theirs, "fwd", n)) for n, v in k32["forward"].items()]
    first = {dt: mine[dt]["history"][0] for dt in RUNS}
    rows.append(_row("loss", "loss", None, None,
                     {dt: first[dt]["loss"] for dt in ("float32", "float64")},
                     {dt: float(v) if v is not None else None
                      for dt, v in _theirs(theirs, "loss", "0").items()}))
    for (layer, w) in reversed(list(k32["gradient"])):   # from the output back
        rows.append(_row("backward", "gradient", layer, w,
                         {"float32": k32["gradient"][(layer, w)],
                          "float64": k64["gradient"][(layer, w)]},
                         _theirs(theirs, "grad", layer, w), nudged["gradient"][(layer, w)]))
    for (layer, w), v in first["float32"]["after"].items():
        kind = "statistics" if w in STATISTICS else "update"
        rows.append(_row(kind, kind, layer, w,
                         {"float32": v, "float64": first["float64"]["after"][(layer, w)]},
                         _theirs(theirs, "after", "0", layer, w),
                         first["nudged"]["after"][(layer, w)]))
    order = ("forward", "loss", "backward", "statistics", "update")
    return sorted(rows, key=lambda r: order.index(r["stage"]))


def _history(mine: dict, theirs: dict, steps: int) -> list:
    out = []
    for s in range(steps):
        K = {dt: mine[dt]["history"][s] for dt in RUNS}
        T = {dt: float(v) for dt, v in _theirs(theirs, "loss", str(s)).items()}
        losses = [K["float32"]["loss"], K["float64"]["loss"], *T.values()]
        if not np.all(np.isfinite(losses)):
            out.append({"step": s + 1, "loss": {dt: str(K[dt]["loss"]) for dt in T},
                        "torch_loss": {dt: str(v) for dt, v in T.items()},
                        "loss_comparison": None, "status": "not_finite",
                        "worst_weight": {"float32": None, "float64": None},
                        "first_diverging_weight": None,
                        "note": "a loss is not finite: the training diverged"})
            break
        entry = {"step": s + 1, "loss": {dt: K[dt]["loss"] for dt in T}, "torch_loss": T,
                 "loss_comparison": judge(K["float32"]["loss"], K["float64"]["loss"],
                                          T["float32"], T["float64"])}
        worst, first = {"float32": None, "float64": None}, None
        for (layer, w), v in K["float32"]["after"].items():
            t = _theirs(theirs, "after", str(s), layer, w)
            if t["float32"] is None:
                continue
            k64 = K["float64"]["after"][(layer, w)]
            m = judge(v, k64, t["float32"], t["float64"], K["nudged"]["after"][(layer, w)])
            for dt in m:
                r = m[dt]["bound_ratio"]
                if r is not None and (worst[dt] is None or r > worst[dt]["bound_ratio"]):
                    worst[dt] = {"layer": layer, "weight": w, "bound_ratio": r,
                                 "max_abs_diff": m[dt]["max_abs_diff"]}
            if first is None and diverges(m):
                first = {"layer": layer, "weight": w}
        entry |= {"worst_weight": worst, "first_diverging_weight": first,
                  "status": "fail" if first or diverges(entry["loss_comparison"]) else "pass"}
        out.append(entry)
    return out


def _cause(keras_model, first: dict, mine: dict, rows: list, x, theirs: dict,
           opt: tuple) -> dict:
    """What the measurements say of a stage's first diverging quantity."""
    stage, layer = first["stage"], first["layer"]
    before = [r for r in rows if r["stage"] == "forward" and diverges(r)]
    if stage == "forward":
        kind = type(keras_model.get_layer(layer)).__name__
        text = (_moments(keras_model, layer, mine, x) if kind == "BatchNormalization"
                else None) or f"the {kind} layer's output in training mode parts"
    elif stage == "loss":
        text = (f"the loss follows the forward, which parted at {before[0]['layer']}" if before
                else "every layer's output agrees within its bound and the loss parts")
    elif stage == "backward":
        text = "the gradient parts" + (" after the forward parted at " + before[0]["layer"]
                                       if before else " while every forward value agrees")
    elif stage == "statistics":
        text = "the moving statistic after train_on_batch parts" + (
            f" (the forward parted at {before[0]['layer']})" if before else "")
    else:
        grads = [r for r in rows if r["stage"] == "backward"]
        text = "the update follows the gradients, which part" if any(map(diverges, grads)) \
            else "the weight after train_on_batch parts while every gradient agrees: " + \
            _replayed(keras_model, first, mine, theirs, *opt)
    return {"text": (f"{layer}: " if layer else "") + text,
            "registry": sorted(set(re.findall(r"registry ([a-z0-9.-]+)", text)))}


def _first_update(optimizer: str, hyper: dict, w, g, rounded: bool):
    """The weight after the first step of Keras's ``optimizer`` from ``w`` with gradient
    ``g``, in float64, as Keras's code computes it; the learning rate is float32 (a Keras
    variable on every backend); where ``rounded``, the hyperparameters Keras passes through
    ``ops.cast(python_float, dtype)`` are float32-rounded (what that cast does on TF:
    ``keras-hyperparameters-float32``): SGD's momentum, Adam's betas in the bias correction,
    AdamW's weight decay; Python arithmetic on them (``1 - beta``) stays exact."""
    from parity.ports.optim import keras_float

    cast = keras_float if rounded else (lambda v: v)
    lr = keras_float(hyper["learning_rate"])
    if optimizer == "sgd":   # m = momentum * 0 - lr * g
        m = -lr * g
        return w + (cast(hyper["momentum"]) * m - lr * g if hyper["nesterov"] else m)
    if optimizer == "rmsprop":   # no cast at the first step: rho and epsilon as Python floats
        return w - lr * g / np.sqrt((1 - hyper["rho"]) * g * g + hyper["epsilon"])
    b1, b2 = hyper["beta_1"], hyper["beta_2"]
    if optimizer == "adamw":
        w = w - w * cast(hyper["weight_decay"]) * lr
    alpha = lr * np.sqrt(1 - cast(b2)) / (1 - cast(b1))
    return w - alpha * ((1 - b1) * g) / (np.sqrt((1 - b2) * g * g) + hyper["epsilon"])


def _replayed(keras_model, first: dict, mine: dict, theirs: dict, optimizer: str,
              hyper: dict) -> str:
    """The first step's update of the weight replayed in float64 from TF's weights and
    gradient, with the hyperparameters as given and rounded to float32: which backend computes
    which."""
    from parity.model.keras_graph import weights_by_name

    layer, weight = first["layer"], first["weight"]
    g = mine["float64"]["gradient"].get((layer, weight))
    if g is None:
        return "the optimizer's updates part (not replayed: no gradient of this weight)"
    w = np.asarray(weights_by_name(keras_model.get_layer(layer))[weight].numpy(), np.float64)
    got = {"TensorFlow": mine["float64"]["history"][0]["after"][(layer, weight)],
           "the torch backend": _theirs(theirs, "after", "0", layer, weight)["float64"]}
    replays = {"as given": _first_update(optimizer, hyper, w, g, False),
               "rounded to float32": _first_update(optimizer, hyper, w, g, True)}
    parts, closest = [], []
    for side, value in got.items():
        errs = {k: float(np.max(np.abs(np.asarray(value, np.float64) - r), initial=0.0))
                for k, r in replays.items()}
        best = min(errs, key=errs.get)
        closest.append(best)
        parts.append(f"{side}'s float64 update is {optimizer}'s with the hyperparameters "
                     f"{best} (off {errs[best]:.3g}; the other way {max(errs.values()):.3g})")
    text = "replayed in float64 from TF's gradient, " + "; ".join(parts)
    if closest == ["rounded to float32", "as given"]:
        text += " (registry keras-hyperparameters-float32: ops.cast of a Python float goes " \
                "through float32 on TF only)"
    return text


def _moments(keras_model, layer: str, mine: dict, x) -> str | None:
    """For a BatchNormalization in training mode: its input's variance over the batch axes
    computed two ways in float32, E[x^2] - E[x]^2 (Keras's torch moments) and E[(x - mean)^2]
    (TF's), against float64: which one is far from it."""
    from parity.model.keras_graph import KerasGraph

    kg = KerasGraph(keras_model)
    src = kg.layer_inputs(layer, mine["float64"]["forward"] | {kg.input_name: x})
    axis = keras_model.get_layer(layer).axis
    if len(src) != 1 or (axis[0] if isinstance(axis, (list, tuple)) else axis) not in (
            -1, np.ndim(src[0]) - 1):
        return None
    x = np.asarray(src[0], np.float64)
    axes = tuple(range(x.ndim - 1))
    exact = x.var(axis=axes)
    x32 = x.astype(np.float32)
    m32 = x32.mean(axis=axes, dtype=np.float32)
    one_pass = (x32 * x32).mean(axis=axes, dtype=np.float32) - m32 * m32
    two_pass = ((x32 - m32) ** 2).mean(axis=axes, dtype=np.float32)
    e1, e2 = (float(np.max(np.abs(v - exact) / np.maximum(exact, 1e-30))) for v in
              (one_pass, two_pass))
    if e1 <= 10 * e2:
        return None
    return (f"its input's batch variance in float32 is off by {e1:.3g} (relative) as "
            f"E[x^2] - E[x]^2, which Keras's torch moments computes, and by {e2:.3g} as "
            f"E[(x - mean)^2], which TF's does (input mean up to {float(np.max(np.abs(m32))):.3g}): "
            "registry keras-torch-moments-cancellation")
