"""Training steps of a Keras model and a torch module, compared quantity by quantity, layer by
layer: every mapped layer's forward value in training mode (batch statistics), the loss, the
loss's gradient with respect to every layer's output and to every weight (``propagated``: the
whole backward pass), each layer's backward alone (``isolated``: the torch layer fed Keras's
exact input and Keras's exact gradient of its output, giving its input's and its weights'
gradients), BatchNormalization's moving statistics after the step and every weight after the
optimizer's update; over ``steps`` steps on one batch, the loss and every weight after each.

Each side steps as its users write it (``training_keras``, ``training_torch``); Keras's
optimizer and hyperparameters are given and translated to torch's meaning (``training_optim``),
or a user's own torch optimizer is run as given and checked. The torch module starts from Keras's weights,
carried as ``parity model`` carries them. Both run in float32 and in float64 (a float64 copy of
each model with the same weights); a quantity is judged as the forward pass's propagated values
are: the float64 values against the two models' own float32-vs-float64 drift scaled to
float64's unit roundoff, with a floor of ``ROUNDING_C`` float64 roundings of the value, and the
float32 values against both models' drift plus that float64 bound. Dropout and the other
random layers are made the identity on both sides during the step (``rate``, ``stddev``, ``p``
0: the masks of two frameworks cannot agree), which the report says.

The first diverging quantity is looked for in the order forward -> loss -> backward (from the
output back; per layer its output's gradient, its isolated backward, its weights' gradients)
-> statistics -> update; the first of each stage is given its cause (``training_causes``).
"""
from __future__ import annotations

import time

import numpy as np

from parity.core.layout import torch_layout
from parity.model import carry, dataflow, training_causes, training_optim
from parity.model.matching import fit as _fit, matched, torch_input as _torch_input
from parity.model.matching import unfit as _unfit
from parity.model.errors import ModelError
from parity.model.keras_graph import KerasGraph
from parity.model.mapping import fused_activation
from parity.model.torch_graph import TorchGraph, modules_of
from parity.model.training_judge import NUDGE, diverges, judge, minimum_tolerance
from parity.model.training_keras import KERAS_RANDOM, KERAS_STEPS, keras_starts, keras_steps
from parity.model.training_torch import torch_isolated, torch_steps

__all__ = ["LOSSES", "NUDGE", "OPTIMIZERS", "STAGES", "diverges", "judge", "step",
           "targets_for"]
LOSSES = ("mse", "crossentropy")
OPTIMIZERS = training_optim.OPTIMIZERS
STAGES = ("forward", "loss", "backward", "statistics", "update")
STAGE_OF = {"forward": "forward", "loss": "loss", "output_gradient": "backward",
            "isolated_gradient": "backward", "gradient": "backward",
            "statistics": "statistics", "update": "update"}
_STATISTICS = ("running_mean", "running_var", "moving_mean", "moving_variance")
_BN_SOURCE = {"weight": "gamma", "bias": "beta", "running_mean": "moving_mean",
              "running_var": "moving_variance"}
"""torch's BatchNorm names -> the Keras weight each holds (KerasBatchNorm uses Keras's)."""


def targets_for(keras_model, inputs, loss: str, seed: int = 0) -> np.ndarray:
    """Seeded targets of the model output's shape: uniform in [-1, 1) for ``mse``, one-hot
    rows of random classes for ``crossentropy``."""
    shape = tuple(keras_model.outputs[0].shape[1:])
    rng = np.random.default_rng(seed + 1)
    n = len(inputs)
    if loss == "crossentropy":
        return np.eye(shape[-1], dtype=np.float32)[rng.integers(0, shape[-1], n)]
    return rng.uniform(-1, 1, (n, *shape)).astype(np.float32)


def step(keras_model, torch_module, inputs, targets, *, loss: str = "mse",
         optimizer: str = "sgd", learning_rate: float = 0.01, steps: int = 1,
         torch_optimizer=None, mapping=None, channels_first: bool = True,
         input_layout: str | None = None, keras_step: str = "tape",
         **hyperparameters) -> dict:
    """``steps`` steps (one batch) of each model from Keras's weights on ``inputs`` and
    ``targets`` (Keras layout; one-hot rows for ``crossentropy``, whose model output is
    logits), with Keras's ``optimizer`` and its ``hyperparameters`` (``momentum``,
    ``nesterov``, ``beta_1``, ``beta_2``, ``epsilon``, ``rho``, ``weight_decay``: Keras's
    defaults where not given) and their translation to torch, or ``torch_optimizer(params)``
    where given (run as given; what it does that Keras's does not is reported);
    ``input_layout``: as ``compare``'s (``"nhwc"``: a module that takes channels-last input);
    ``keras_step``: ``training_keras.KERAS_STEPS``. Returns the report's ``training`` section:
    the first step's quantities, each with its stage, kind, layer, weight and float32/float64
    comparison, in the order the verdict looks for the first diverging; the loss and worst
    weight of every step (``history``); the verdict with the first diverging quantity of each
    stage and its cause."""
    t0 = time.perf_counter()
    if loss not in LOSSES:
        raise ModelError(f"loss must be one of {', '.join(LOSSES)}, got {loss!r}")
    if keras_step not in KERAS_STEPS:
        raise ModelError(f"keras_step must be one of {', '.join(KERAS_STEPS)}, "
                         f"got {keras_step!r}")
    if not (isinstance(steps, int) and steps >= 1):
        raise ModelError(f"steps must be a positive integer, got {steps!r}")
    hyper = training_optim.hyperparameters(optimizer, {"learning_rate": learning_rate,
                                                       **hyperparameters})
    make_torch = torch_optimizer or training_optim.translated(optimizer, hyper)
    kg, tg = KerasGraph(keras_model), TorchGraph(torch_module, channels_first)
    x = np.asarray(inputs, np.float32)
    y = np.asarray(targets, np.float32)
    tl = lambda a: torch_layout(a, channels_first)  # noqa: E731
    input_first = channels_first if input_layout is None else input_layout == "nchw"
    tl_in = lambda a: torch_layout(a, input_first)  # noqa: E731
    _, pairs = matched(kg, tg, tl_in(x), mapping, channels_first, input_first)
    carry.load(kg, tg, pairs, channels_first)
    tg.reset_copies()
    kinds_of = {n.label: n.kind for n in tg.nodes or []} | {c.label: c.kind for c in tg.calls}
    per_layer, skipped = [], {}
    for name, labels in pairs:
        last = kinds_of.get(labels[-1], "")
        if fused_activation(kg.by_name[name]) is not None and last != "activation" and \
                not last.startswith("fn:act:"):
            skipped[name] = f"Keras applies its {fused_activation(kg.by_name[name])} " \
                "activation inside the layer, the torch side after it"
        else:
            per_layer.append(name)
    taps = [dict(pairs)[n][-1] for n in per_layer]
    starts = {n: keras_starts(kg, tg, pairs, n) for n in per_layer}

    def layout(name, value, source, label, tvals):
        if source == dataflow.KERAS_INPUT:
            return tl_in(value)
        if tg.nodes is None:
            return _torch_input(kg, name, value, channels_first)
        return _unfit(tl(value), tvals.get(label))

    keras_side, torch_side = {}, {}
    t_setup = time.perf_counter() - t0
    for dt in ("float32", "float64"):
        k = keras_side[dt] = keras_steps(kg, dt, x.astype(dt), y.astype(dt), loss,
                                         lambda: training_optim.keras_optimizer(optimizer,
                                                                                hyper),
                                         per_layer, steps, starts=starts,
                                         keras_step=keras_step)
        values = k["values"] | {dataflow.KERAS_INPUT: x.astype(dt)}
        upstream = {n: tl(k["output_gradient"][n]) for n in per_layer}
        torch_side[dt] = torch_steps(tg, dt, tl_in(x).astype(dt), tl(y).astype(dt), loss,
                                     make_torch, taps, steps,
                                     isolate=torch_isolated(kg, tg, pairs, per_layer, values,
                                                            upstream, layout))
    keras_side["nudged"] = keras_steps(kg, "float64", x.astype("float64"), y.astype("float64"),
                                       loss, lambda: training_optim.keras_optimizer(optimizer,
                                                                                    hyper),
                                       [], steps, nudge=True, keras_step=keras_step)
    t_runs = time.perf_counter() - t0 - t_setup
    rows = _rows(kg, tg, pairs, per_layer, keras_side, torch_side, channels_first, tl, tl_in)
    history = _history(kg, tg, pairs, keras_side, torch_side, channels_first)
    settings = training_optim.check(torch_optimizer([tg.torch.nn.Parameter(
        tg.torch.zeros(1))]), optimizer, hyper) if torch_optimizer else []
    random = sorted(layer.name for layer in kg.layers if type(layer).__name__ in KERAS_RANDOM)
    verdict = _verdict(rows, history)
    earlier = None
    for stage, first in verdict["first_by_stage"].items():
        first["cause"] = training_causes.cause(kg, tg, pairs, first, keras_side, torch_side,
                                               settings, channels_first)
        if earlier is not None and stage != "statistics":   # (replayed on Keras's input)
            first["cause"]["text"] += f" (after the {earlier['stage']} parted" + \
                (f" at {earlier['layer']})" if earlier["layer"] else ")")
        earlier = earlier or (first if stage in ("forward", "loss", "backward") else None)
    if verdict["first_diverging"]:
        verdict["cause"] = verdict["first_by_stage"][
            STAGE_OF[verdict["first_diverging"]["kind"]]]["cause"]
    return {"loss": loss, "optimizer": optimizer, "hyperparameters": hyper, "steps": steps,
            "keras_step": keras_step,
            "torch_optimizer": getattr(torch_optimizer, "spec", "given") if torch_optimizer
            else "translated", "optimizer_settings": settings,
            "random_layers": random,
            "random_torch_modules": torch_side["float32"]["random_off"],
            "random_layers_note": (
                "made the identity on both sides during the step (rate, stddev, p = 0): "
                "the masks of two frameworks cannot agree" if random or
                torch_side["float32"]["random_off"] else "none: the step is deterministic"),
            "not_compared_per_layer": skipped, "quantities": rows, "history": history,
            "verdict": verdict, "minimum_tolerance": minimum_tolerance(rows),
            "seconds": {"setup": round(t_setup, 3), "runs": round(t_runs, 3),
                        "total": round(time.perf_counter() - t0, 3)}}


def _pair_rows(k32, k64, t32, t64, own64=None, **fields) -> dict:
    return {**fields, **judge(k32, k64, t32, t64, own64)}


def _nudged(kg, name, modules, prefixes, kind, K, source, s, channels_first) -> dict:
    """{torch parameter: {"float64": the nudged Keras run's value at step ``s``}} (``NUDGE``)."""
    values = {"float64": K["nudged"]["history"][s][source]}
    return {pname: {"float64": want["float64"]} for pname, _, want, _ in
            _weights(kg, name, modules, prefixes, kind, values, values, channels_first,
                     torch_keys=False)}


def _rows(kg, tg, pairs, per_layer, keras_side, torch_side, channels_first, tl,
          tl_in) -> list:
    dts = ("float32", "float64")
    K, T = keras_side, torch_side
    first = {dt: K[dt]["history"][0] for dt in dts}
    tfirst = {dt: T[dt]["history"][0] for dt in dts}
    rows = []
    labels_of = dict(pairs)
    for n in per_layer:   # forward, in forward order
        lbl = labels_of[n][-1]
        rows.append(_pair_rows(*(tl(K[dt]["forward"][n]) for dt in dts),
                               *(_fit(T[dt]["forward"].get(lbl), K[dt]["forward"][n])
                                 for dt in dts),
                               stage="forward", kind="forward", layer=n, weight=None))
    rows.append(_pair_rows(*(first[dt]["loss"] for dt in dts),
                           *(tfirst[dt]["loss"] for dt in dts),
                           stage="loss", kind="loss", layer=None, weight=None))
    named = {m: n for n, m in tg.module.named_modules()}
    later = []
    for index, (name, labels) in reversed(list(enumerate(pairs))):   # from the output back
        modules = modules_of(tg.module, labels)
        prefixes = [named[m] for m in modules]
        if name in per_layer:
            lbl = labels[-1]
            rows.append(_pair_rows(*(tl(K[dt]["output_gradient"][name]) for dt in dts),
                                   *(_fit(T[dt]["output_gradient"].get(lbl),
                                          K[dt]["output_gradient"][name]) for dt in dts),
                                   stage="backward", kind="output_gradient", layer=name,
                                   weight=None))
            rows += _isolated_rows(kg, name, modules, prefixes, K, T, channels_first, tl,
                                   tl_in)
        for kind, source in (("gradient", "gradient"), ("statistics", "after"),
                             ("update", "after")):
            nudged = _nudged(kg, name, modules, prefixes, kind, K, source, 0, channels_first)
            for pname, key, want, have in _weights(kg, name, modules, prefixes, kind,
                                                   {dt: first[dt][source] for dt in dts},
                                                   {dt: tfirst[dt][source] for dt in dts},
                                                   channels_first):
                row = _pair_rows(want["float32"], want["float64"], have["float32"],
                                 have["float64"], nudged[pname]["float64"],
                                 stage=STAGE_OF[kind], kind=kind,
                                 layer=name, weight=pname, torch=key)
                if kind == "gradient":
                    rows.append(row)
                else:
                    later.append((STAGES.index(STAGE_OF[kind]), index, row))
    return rows + [row for _, _, row in sorted(later, key=lambda t: t[:2])]   # forward order


def _weights(kg, name, modules, prefixes, kind, keras_values, torch_values, channels_first,
             torch_keys: bool = True):
    """(torch parameter name, its qualified name, Keras's value carried to torch's layout,
    torch's value) by dtype, for the weights of layer ``name`` a quantity of ``kind`` holds
    (``torch_keys=False``: ``torch_values`` are Keras's too, by Keras layer and name)."""
    values = {dt: {short: v for (layer, short), v in keras_values[dt].items() if layer == name}
              for dt in keras_values}
    ref = next(iter(values))
    if not values[ref]:
        return []
    want = {dt: carry.expected(kg, name, modules, channels_first, weights=values[dt])
            for dt in values}
    found = []
    for (i, pname) in want[ref]:
        stat = pname in _STATISTICS
        if (kind == "statistics") != stat or _BN_SOURCE.get(pname, pname) not in \
                values[ref] and kg.kind(name) == "batchnorm":
            continue   # (a gamma or beta Keras has not: carry fills it, none trains)
        key = f"{prefixes[i]}.{pname}" if prefixes[i] else pname
        have = {dt: torch_values[dt].get(key) for dt in torch_values} if torch_keys else \
            {dt: want[dt][(i, pname)] for dt in want}
        if have[ref] is None:
            continue
        found.append((pname, key, {dt: want[dt][(i, pname)] for dt in want}, have))
    return found


def _isolated_rows(kg, name, modules, prefixes, K, T, channels_first, tl, tl_in) -> list:
    dts = ("float32", "float64")
    keras = {dt: K[dt]["isolated"][name] for dt in dts}
    torch = {dt: T[dt]["isolated"][name] for dt in dts}
    if "error" in torch["float32"]:
        return [{"stage": "backward", "kind": "isolated_gradient", "layer": name,
                 "weight": None, "error": torch["float32"]["error"],
                 "float32": {"shape_match": False, "max_abs_diff": None, "bound_ratio": None,
                             "mismatched": 0},
                 "float64": {"shape_match": False, "max_abs_diff": None, "bound_ratio": None,
                             "mismatched": 0}}]
    rows = []
    sources = list(keras["float32"]["input"])
    for src in sources:
        key = dataflow.KERAS_INPUT if src == kg.input_name else src
        have = {dt: torch[dt]["input"].get(key) for dt in dts}
        want = {dt: keras[dt]["input"][src] for dt in dts}
        if have["float32"] is None or want["float32"] is None:
            continue
        direct = src in kg.inputs_of[name] and key != dataflow.KERAS_INPUT
        rows.append(_pair_rows(*(_torch_input(kg, name, want[dt], channels_first) if direct
                                 else tl_in(want[dt]) if key == dataflow.KERAS_INPUT
                                 else tl(want[dt]) for dt in dts),
                               *(_fit(have[dt], want[dt]) for dt in dts),
                               stage="backward", kind="isolated_gradient", layer=name,
                               weight="input" if len(sources) == 1 else f"input:{src}"))
    grads = {dt: {(name, short): v for short, v in keras[dt].items() if short != "input"}
             for dt in dts}
    for pname, key, want, have in _weights(kg, name, modules, prefixes, "gradient", grads,
                                           torch, channels_first):
        rows.append(_pair_rows(want["float32"], want["float64"], have["float32"],
                               have["float64"], stage="backward", kind="isolated_gradient",
                               layer=name, weight=pname, torch=key))
    return rows


def _history(kg, tg, pairs, keras_side, torch_side, channels_first) -> list:
    """Per step: the loss's comparison and the worst weight after it (the drift over steps)."""
    named = {m: n for n, m in tg.module.named_modules()}
    out = []
    for s in range(len(keras_side["float32"]["history"])):   # noqa: B007
        K = {dt: keras_side[dt]["history"][s] for dt in ("float32", "float64")}
        T = {dt: torch_side[dt]["history"][s] for dt in torch_side}
        losses = [K[dt]["loss"] for dt in K] + [T[dt]["loss"] for dt in T]
        if not all(np.isfinite(losses)):   # the training itself diverged: nothing to compare
            out.append({"step": s + 1, "loss": {dt: _finite(K[dt]["loss"]) for dt in K},
                        "torch_loss": {dt: _finite(T[dt]["loss"]) for dt in T},
                        "status": "not_finite", "worst_weight": {"float32": None,
                                                                 "float64": None},
                        "first_diverging_weight": None, "loss_comparison": None,
                        "note": "a loss is not finite: the training diverged (a smaller "
                                "learning rate); this step and the later ones are not "
                                "compared"})
            break
        entry = {"step": s + 1, "loss": {dt: K[dt]["loss"] for dt in K},
                 "torch_loss": {dt: T[dt]["loss"] for dt in T},
                 "loss_comparison": judge(*(K[dt]["loss"] for dt in K),
                                          *(T[dt]["loss"] for dt in T))}
        worst, first = {"float32": None, "float64": None}, None
        for name, labels in pairs:
            modules = modules_of(tg.module, labels)
            prefixes = [named[m] for m in modules]
            for kind in ("statistics", "update"):
                nudged = _nudged(kg, name, modules, prefixes, kind, keras_side, "after", s,
                                 channels_first)
                for pname, _, want, have in _weights(
                        kg, name, modules, prefixes, kind, {dt: K[dt]["after"] for dt in K},
                        {dt: T[dt]["after"] for dt in T}, channels_first):
                    m = judge(want["float32"], want["float64"], have["float32"],
                              have["float64"], nudged[pname]["float64"])
                    for dt in m:
                        r = m[dt]["bound_ratio"]
                        if r is not None and (worst[dt] is None or r > worst[dt]["bound_ratio"]):
                            worst[dt] = {"layer": name, "weight": pname,
                                         "bound_ratio": r, "max_abs_diff": m[dt]["max_abs_diff"]}
                    if first is None and diverges({"float32": m["float32"],
                                                   "float64": m["float64"]}):
                        first = {"layer": name, "weight": pname}
        entry["worst_weight"] = worst
        entry["first_diverging_weight"] = first
        entry["status"] = "fail" if first or diverges(entry["loss_comparison"]) else "pass"
        out.append(entry)
    return out


def _finite(v: float):
    """A loss as JSON holds it: a non-finite one as its name ('nan', 'inf')."""
    return v if np.isfinite(v) else str(v)


def _verdict(rows, history) -> dict:
    first_by_stage = {}
    for r in rows:
        if diverges(r) and r["stage"] not in first_by_stage:
            first_by_stage[r["stage"]] = {k: r.get(k) for k in ("stage", "kind", "layer",
                                                                "weight", "torch")}
    first = next((r for r in rows if diverges(r)), None)
    parted = next((h for h in history if h["status"] == "fail"), None)
    return {"status": "fail" if first or parted else "pass",
            "first_diverging": None if first is None else
            {k: first[k] for k in ("kind", "layer", "weight")},
            "first_by_stage": first_by_stage,
            "not_finite_at_step": next((h["step"] for h in history
                                        if h["status"] == "not_finite"), None),
            "parted_at_step": None if parted is None else
            {"step": parted["step"], **(parted["first_diverging_weight"] or
                                        {"layer": None, "weight": "loss"})}}
