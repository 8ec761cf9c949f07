"""``compare``: a Keras model against a torch module, layer by layer (see ``parity.model``)."""
from __future__ import annotations

import time

import numpy as np

from parity.core.tolerance import compare_output
from parity.model import bounds, carry, dataflow, diagnose
from parity.model.errors import ModelError
from parity.core.layout import torch_layout
from parity.model.mapping import fused_activation
from parity.model.keras_graph import KerasGraph
from parity.model.matching import fit as _fit, matched, model_inputs
from parity.model.matching import torch_input as _torch_input, unfit as _unfit
from parity.model.torch_graph import TorchGraph, module_name, modules_of

MAX_EXPLAINED = 12
"""Diverging layers whose cause is looked for (the op pair runs once per layer)."""

_KEEP = ("shape_match", "tf_shape", "torch_shape", "max_abs_diff", "max_rel_diff", "mismatched",
         "mismatched_fraction", "bound_ratio", "bound", "worst_index", "tf_value",
         "torch_value", "reference_value", "farther", "nonfinite_match")


def _metrics(m: dict) -> dict:
    out = {k: m.get(k) for k in _KEEP}
    out["keras_shape"] = out.pop("tf_shape")
    out["keras_value"] = out.pop("tf_value")
    return out


def _diverges(m: dict | None) -> bool:
    return m is not None and (not m["shape_match"] or m["mismatched"] > 0)


def compare(keras_model, torch_module, inputs=None, mapping=None, *,
            carry_weights: bool | str = True,
            dtypes=("float32", "float64"), channels_first: bool = True, batch: int = 2,
            seed: int = 0, explain: bool = True, weights: str | None = None,
            stop=None, input_layout: str | None = None, train: dict | None = None) -> dict:
    """Compare ``keras_model`` (Keras 3 on TensorFlow) with ``torch_module`` layer by layer.

    ``inputs``: a Keras-layout array (default: ``batch`` samples uniform in [-1, 1), seeded);
    ``mapping``: ``{keras_layer: torch_module_name or [names]}`` for layers the automatic
    mapping gets wrong; ``carry_weights``: copy Keras's weights into the torch module
    (``"torch-to-keras"``: the torch module's into the Keras model, for a port from torch; else
    its own weights are used and checked against Keras's); ``channels_first``: the torch
    module's activations are NC... (Keras's are channels-last); ``explain``: run the matching
    op pair on the first diverging layer; ``weights``: how the weights were made (reported);
    ``stop()``, asked before each layer, ends the comparison there when it returns True (a
    signal): the layers compared so far are returned, ``stopped_at`` names the next one;
    ``input_layout``: ``"nhwc"`` for a torch module that takes channels-last input and
    transposes it itself (a converter's output), ``"nchw"``; default: as ``channels_first``;
    ``train``: ``parity.model.training.step``'s options (``inputs`` and ``targets`` too: by
    default the compared inputs and seeded targets): the training steps compared as well, in
    ``training``.
    Returns the ``model`` section of a report (``report/schema.json``).
    """
    t0 = time.perf_counter()
    if "float32" not in dtypes:
        dtypes = ("float32", *dtypes)
    kg = KerasGraph(keras_model)
    x = model_inputs(kg, inputs, batch, seed)
    tg = TorchGraph(torch_module, channels_first)
    if input_layout not in (None, "nchw", "nhwc"):
        raise ModelError(f"input_layout must be 'nchw' or 'nhwc', got {input_layout!r}")
    input_first = channels_first if input_layout is None else input_layout == "nchw"
    x_t = torch_layout(x, input_first)
    structure: dict[str, str] = {}   # layers whose inputs differ in the two graphs
    calls, pairs = matched(kg, tg, x_t, mapping, channels_first, input_first, structure)
    traced = tg.nodes is not None
    if carry_weights == "torch-to-keras":
        carried = carry.load_into_keras(kg, tg, pairs, channels_first)
        checked = {}
    elif carry_weights:
        carried = carry.load(kg, tg, pairs, channels_first)
        checked = {}
    else:
        carried = carry.account(kg, tg, pairs, carry.counterparts(kg, tg, pairs,
                                                                  channels_first)) | \
            {"problems": []}
        checked = carry.check(kg, tg, pairs, channels_first)
    hyper = {name: carry.hyperparameters(kg, name, modules_of(torch_module, labels))
             for name, labels in pairs}
    tg.reset_copies()
    t_setup = time.perf_counter() - t0

    kouts, touts, tfinal = {}, {}, {}
    for dt in dtypes:
        kouts[dt] = kg.run(x.astype(dt), dt)
        _, touts[dt], tfinal[dt] = tg.run(x_t.astype(dt), dt)
    t_runs = time.perf_counter() - t0 - t_setup

    tl = lambda a: torch_layout(a, channels_first)  # noqa: E731
    kinds_of = {n.label: n.kind for n in tg.nodes} if traced else \
        {c.label: c.kind for c in calls}   # traced: every node's, functions included
    mapped = {n for n, _ in pairs}
    rows, stopped_at = [], None
    at_node = {dt: {dataflow.KERAS_INPUT: x.astype(dt)} for dt in dtypes}  # Keras values
    weights_rho = 0.0   # the largest relative difference of a torch side's own folded weights
    for name, labels in pairs:
        if stop is not None and stop():
            stopped_at = name
            break
        layer, kind = kg.by_name[name], kg.kind(name)
        # Keras applies an activation inside the layer that the torch side's matched nodes do
        # not end with: compare the layer's output before it
        last_kind = kinds_of.get(labels[-1], "")
        linear = fused_activation(layer) is not None and last_kind != "activation" and \
            not last_kind.startswith("fn:act:")
        keras_out = {dt: kg.call_layer(name, kg.layer_inputs(name, kouts[dt]), dt, linear=True)
                     if linear else kouts[dt][name] for dt in dtypes}
        crop = _crop_after(kg, name, mapped, tl(kouts["float32"][name]),
                           touts["float32"][labels[-1]][1], kouts["float32"], tl)
        if crop:   # Keras crops in a layer of its own what the torch module crops itself
            keras_out = {dt: kouts[dt][crop] for dt in dtypes}
        row = {"layer": name, "type": type(layer).__name__, "kind": kind, "torch": labels,
               "shape": list(np.shape(kouts["float32"][name])), "isolated": {},
               "propagated": {}, "hyperparameters": hyper.get(name, []),
               "weights": checked.get(name, [])}
        if name in structure:
            row["structure"] = structure[name]
        if linear:
            row["compared"] = (f"before its {fused_activation(layer)} activation (the torch side "
                               + ("applies none right after it: the layers after it see the "
                                  "difference, if any)" if traced else
                                  "applies it without a module)"))
        if crop:
            row["compared"] = f"with the following {crop} (the torch module crops itself)"
        iso64_max = 0.0
        mods = [module_name(lbl) for lbl in labels]
        starts = dataflow.upstream_values(kg, tg, pairs, name) if traced else None
        for dt in sorted(dtypes, key=lambda d: d != "float64"):  # float64 first: its bound
            k_in = kg.layer_inputs(name, kouts[dt])
            ref = kg.call_layer(name, [a.astype(np.float64) for a in k_in], "float64",
                                linear=linear)
            bound = bounds.isolated(kg, name, k_in, ref, dt, linear)
            if crop:
                ref, bound = (kg.call_layer(crop, [a], "float64") for a in (ref, bound))
            folded = None if carry_weights or not traced else \
                bounds.folded_difference(kg, tg, name, labels, k_in, channels_first)
            if folded is not None:   # the converter's own folded constants, not Keras's
                bound = bound + folded[0]
                row["weights_bound"] = folded[1]
                weights_rho = max(weights_rho, folded[2])
            if dt == "float64":
                iso64_max = float(np.max(bound, initial=0.0))
            try:
                if traced:   # the torch segment from the values Keras has where it starts
                    t_iso = _fit(tg.call_segment(labels[-1], {
                        s: _unfit(torch_layout(at_node[dt][k], input_first if
                                               k == dataflow.KERAS_INPUT else channels_first),
                                  touts["float32"].get(s, (None, None))[1])
                        for s, k in starts.items()}, dt), keras_out[dt])
                else:
                    t_iso = _fit(tg.call_units(mods, [_torch_input(kg, name, a, channels_first)
                                                      for a in k_in], dt), keras_out[dt])
            except Exception as e:  # noqa: BLE001 - the torch layer refusing Keras's input
                t_iso = None
                row.setdefault("errors", []).append(
                    f"{dt} isolated: {type(e).__name__}: {str(e).splitlines()[0][:200]}")
            pad = kg.inputs_of[name][0]
            if not traced and (t_iso is None or np.shape(t_iso) != np.shape(tl(keras_out[dt]))) \
                    and pad in kg.by_name and kg.kind(pad) == "pad" and pad not in mapped:
                # Keras pads in a layer of its own, the torch module inside the conv: isolate both
                k_in = kg.layer_inputs(pad, kouts[dt])
                t_iso = _fit(tg.call_units(mods, [_torch_input(kg, pad, k_in[0],
                                                               channels_first)], dt),
                             keras_out[dt])
                row["compared"] = f"with the preceding {pad} (the torch module pads itself)"
                ref = kg.call_layer(name, [kg.call_layer(pad, [k_in[0].astype(np.float64)],
                                                         "float64")], "float64", linear=linear)
                bound = bounds.isolated(kg, name, [kg.call_layer(pad, k_in, dt)], ref, dt, linear)
            row["isolated"][dt] = _metrics(compare_output(tl(keras_out[dt]), t_iso, tl(ref),
                                                          tl(bound)))
            row.setdefault("_bound", {})[dt] = (
                tl(bound), _torch_input(kg, name, k_in[0], channels_first) if len(k_in) == 1
                else None, t_iso)
        if "float64" in dtypes:
            k32, k64 = (torch_layout(keras_out[d], channels_first) for d in ("float32",
                                                                               "float64"))
            t32, t64 = (_fit(touts[d][labels[-1]][1], keras_out[d]) for d in ("float32",
                                                                                "float64"))
            if k32.shape == t32.shape == k64.shape == t64.shape:
                b64 = bounds.propagated64(k32, k64, t32, t64, iso64_max, weights_rho)
                row["propagated"]["float64"] = _metrics(compare_output(k64, t64, k64,
                                                                       np.full(k64.shape, b64)))
                row["propagated"]["float32"] = _metrics(compare_output(
                    k32, t32, k64, np.full(k32.shape, bounds.propagated32(k32, k64, t32, t64,
                                                                          b64))))
                row["drift"] = {"keras": float(np.max(np.abs(k32 - k64), initial=0.0)),
                                "torch": float(np.max(np.abs(t32 - t64), initial=0.0))}
            else:
                for d in ("float32", "float64"):
                    row["propagated"][d] = _metrics(compare_output(k32, t32 if d == "float32"
                                                                   else t64, k64, k64 * 0))
        last_keras_out = keras_out
        row["verdict"] = "diverges" if any(_diverges(m) for m in row["isolated"].values()) else \
            ("propagated" if any(_diverges(m) for m in row["propagated"].values()) else "pass")
        rows.append(row)
        for dt in dtypes:
            at_node[dt][name] = keras_out[dt]

    verdict = _verdict(rows)
    if explain and stopped_at is None:
        for row in [r for r in rows if r["verdict"] == "diverges"][:MAX_EXPLAINED]:
            row["cause"] = _cause(kg, tg, row, channels_first, carried["problems"])
        if verdict["first_diverging"]:
            verdict["cause"] = next(r["cause"] for r in rows
                                    if r["layer"] == verdict["first_diverging"])
    for r in rows:
        r.pop("_bound", None)
    last = kg.layers[-1].name
    output = {}
    for dt in dtypes:
        k = torch_layout(last_keras_out[dt] if rows and rows[-1]["layer"] == last and
                         "activation" in rows[-1].get("compared", "") else kouts[dt][last],
                         channels_first)
        k64 = torch_layout(kouts["float64"][last], channels_first) if "float64" in kouts else k
        if np.shape(tfinal[dt]) != np.shape(k) and np.ndim(k) > 2 and \
                np.shape(tfinal[dt]) == np.shape(kouts[dt][last]):   # the module's output is
            k, k64 = kouts[dt][last], kouts.get("float64", kouts[dt])[last]   # channels-last
        m = compare_output(k, tfinal[dt], k64, np.full(np.shape(k), np.inf))
        output[dt] = {"max_abs_diff": m["max_abs_diff"], "max_rel_diff": m["max_rel_diff"],
                      "shape_match": m["shape_match"],
                      "minimum_tolerance": {"atol": m["max_abs_diff"], "rtol": m["max_rel_diff"]}}
    stopped = {} if stopped_at is None else {"stopped_at": stopped_at}
    trained = {} if train is None or stopped_at is not None else \
        {"training": _train(keras_model, torch_module, x, seed, mapping, channels_first,
                            input_layout, train)}
    return stopped | trained | {
        "keras_model": getattr(keras_model, "name", type(keras_model).__name__),
        "torch_module": type(torch_module).__name__,
        "input_shape": list(x.shape), "seed": seed, "dtypes": list(dtypes),
        "weights": weights or ("the torch module's weights carried into the Keras model"
                               if carry_weights == "torch-to-keras" else
                               "Keras's weights carried into the torch module" if carry_weights
                               else "each model's own weights (checked, not carried)"),
        "carry_weights": bool(carry_weights),
        "carry_direction": ("torch-to-keras" if carry_weights == "torch-to-keras" else
                            "keras-to-torch" if carry_weights else "none"),
        "channels_first": channels_first, "input_layout": "nchw" if input_first else "nhwc",
        "layers_total": len(kg.layers), "layers_compared": len(rows),
        "not_compared": [layer.name for layer in kg.layers if layer.name not in mapped],
        "carry": carried, "layers": rows, "verdict": verdict, "output": output,
        "seconds": {"setup": round(t_setup, 3), "runs": round(t_runs, 3),
                    "total": round(time.perf_counter() - t0, 3)}}


def _train(keras_model, torch_module, x, seed, mapping, channels_first, input_layout,
           train: dict) -> dict:
    from parity.model import training

    options = dict(train)
    inputs = options.pop("inputs", None)
    inputs = x.astype(np.float32) if inputs is None else inputs
    targets = options.pop("targets", None)
    if targets is None:
        targets = training.targets_for(keras_model, inputs, options.get("loss", "mse"), seed)
    return training.step(keras_model, torch_module, inputs, targets, mapping=mapping,
                         channels_first=channels_first, input_layout=input_layout, **options)


def _crop_after(kg, name: str, mapped: set, keras_value, torch_value, outs: dict,
                tl) -> str | None:
    """The unmatched Keras cropping layer that alone reads layer ``name``, where the torch
    counterpart's output has the crop's shape and not the layer's (a VALID transposed conv and
    ``Cropping2D``, as converters write a SAME one, against ``ConvTranspose2d(padding=...)``)."""
    readers = [n for n, srcs in kg.inputs_of.items() if name in srcs]
    if len(readers) != 1 or readers[0] in mapped or kg.kind(readers[0]) != "crop":
        return None
    shape = np.shape(torch_value)
    if shape == np.shape(keras_value) or shape != np.shape(tl(outs[readers[0]])):
        return None
    return readers[0]


def _worst(rows, key):
    ratios = [m["bound_ratio"] for r in rows for m in r[key].values()
              if m["bound_ratio"] is not None]
    return max(ratios, default=None)


def _verdict(rows) -> dict:
    first = next((r["layer"] for r in rows if r["verdict"] == "diverges"), None)
    first_prop = next((r["layer"] for r in rows if r["verdict"] != "pass"), None)
    return {"status": "pass" if first_prop is None else "fail", "first_diverging": first,
            "first_propagated": first_prop,
            "worst_isolated_ratio": _worst(rows, "isolated"),
            "worst_propagated_ratio": _worst(rows, "propagated")}


def _cause(kg, tg, row, channels_first, problems=()) -> dict:
    """The first diverging layer's cause: settings, weights, the op pair's mechanism."""
    name = row["layer"]
    parts, cause = [], {"layer": name}
    if row.get("structure"):
        parts.append("structure: " + row["structure"])
    if row["hyperparameters"]:
        parts.append("settings: " + "; ".join(row["hyperparameters"]))
    if row["weights"]:
        parts.append("weights: " + "; ".join(row["weights"]))
    m = row["isolated"].get("float64") or row["isolated"]["float32"]
    if not m["shape_match"]:
        parts.append(f"output shape {m['torch_shape']} in torch, {m['keras_shape']} in Keras")
    parts += [p.split(": ", 1)[1] for p in problems if p.startswith(f"{name}: ")]
    dt = "float64" if "float64" in row["_bound"] else "float32"
    bound, x, t_iso = row["_bound"][dt]
    if x is not None and t_iso is not None and np.shape(t_iso) == np.shape(bound):
        modules = modules_of(tg.module, row["torch"])
        have = {}
        for (i, pname) in carry.expected(kg, name, modules, channels_first):
            p = getattr(modules[i], pname, None)
            if p is not None:
                have[(i, pname)] = p.detach().cpu().numpy().astype(np.float64)
        if len(modules) == 1:
            mech = diagnose.mechanism(kg, name, x.astype(np.float64), t_iso.astype(np.float64),
                                      bound, have, dt)
            cause["op_pair"] = mech
            parts.append(mech["text"])
    cause["text"] = f"{name} ({row['type']}): " + " | ".join(parts or ["no cause found"])
    return cause
