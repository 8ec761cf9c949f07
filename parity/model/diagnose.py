"""Why a layer diverges: the matching op pair run on the layer's exact config and input.

For a layer that maps to an op pair of the registry (SAME convolutions, depthwise, transposed
convolutions, SAME pooling, batch normalization in inference), every torch side of that op pair
is run on the layer's own input and weights; the side whose output equals the user's torch
layer (within the layer's bound) says how the layer computes (``port``: as TF does;
``symmetric``: padding k//2 on both sides; ``defaults``: torch BatchNorm defaults ...). The registry entry that explains that
side's disagreement with TF on this config (``parity.exec.runner.run_case`` with the registry) is
the mechanism, and its repro snippet re-runs it. Layers whose side is the port, or that map to
no op pair, are checked for weight mistakes (``weight_mistake``).
"""
from __future__ import annotations

import numpy as np


_POOL = {"maxpool": "max", "avgpool": "avg"}


def op_case(kgraph, name: str, x: np.ndarray, torch_weights: dict, dtype: str):
    """(op name, config dict, inputs in the op's torch layout) for layer ``name`` on input ``x``
    (torch layout), or None when the layer maps to no op pair."""
    layer, kind = kgraph.by_name[name], kgraph.kind(name)
    rank = x.ndim - 2
    spatial = list(x.shape[2:])
    cfg_common = {"rank": rank, "batch": int(x.shape[0]), "spatial": spatial, "dtype": dtype}
    padding = getattr(layer, "padding", None)
    if kind in ("conv", "depthwise") and padding == "same":
        w = torch_weights[(0, "weight")]
        groups = int(x.shape[1]) if kind == "depthwise" else getattr(layer, "groups", 1)
        op = "depthwise_conv2d_same" if kind == "depthwise" else f"conv{rank}d_same"
        if kind == "depthwise" and rank != 2:
            return None
        cfg = dict(cfg_common, in_channels=int(x.shape[1]), out_channels=int(w.shape[0]),
                   kernel=list(w.shape[2:]), stride=list(layer.strides),
                   dilation=list(layer.dilation_rate), groups=groups,
                   bias=(0, "bias") in torch_weights)
        inp = {"x": x, "w": w, "dy": np.zeros((x.shape[0], w.shape[0],
                                                *[-(-n // s) for n, s in
                                                  zip(spatial, layer.strides)]))}
        if cfg["bias"]:
            inp["b"] = torch_weights[(0, "bias")]
        return op, cfg, inp
    if kind == "transpose" and padding in ("same", "valid") and \
            getattr(layer, "groups", 1) == 1:
        from parity.spec.registry import get

        w = torch_weights[(0, "weight")]   # (in, out, *k)
        op = f"conv_transpose{rank}d"
        cfg = dict(cfg_common, in_channels=int(x.shape[1]), out_channels=int(w.shape[1]),
                   kernel=list(w.shape[2:]), stride=list(layer.strides),
                   dilation=list(layer.dilation_rate), convention="tf", padding=padding,
                   output_padding=list(layer.output_padding or ()),
                   bias=(0, "bias") in torch_weights)
        out = get(op).parse_config(cfg).out_spatial
        inp = {"x": x, "w": w, "dy": np.zeros((x.shape[0], w.shape[1], *out))}
        if cfg["bias"]:
            inp["b"] = torch_weights[(0, "bias")]
        return op, cfg, inp
    if kind in _POOL and padding == "same":
        cfg = dict(cfg_common, channels=int(x.shape[1]), window=list(layer.pool_size),
                   stride=list(layer.strides), fill="uniform")
        out = [-(-n // s) for n, s in zip(spatial, layer.strides)]
        return f"{_POOL[kind]}_pool{rank}d_same", cfg, \
            {"x": x, "dy": np.zeros((x.shape[0], x.shape[1], *out))}
    if kind == "batchnorm" and layer.axis in (-1, x.ndim - 1) and 1 <= rank <= 3:
        w = {k[1]: v for k, v in torch_weights.items()}
        get = lambda *names: next(w[n] for n in names if n in w)  # noqa: E731
        cfg = dict(cfg_common, channels=int(x.shape[1]), keras_axis=-1, mode="eval", steps=1,
                   momentum=float(layer.momentum), epsilon=float(layer.epsilon), offset=0.0)
        inp = {"gamma": get("weight", "gamma"), "beta": get("bias", "beta"),
               "moving_mean": get("running_mean", "moving_mean"),
               "moving_variance": get("running_var", "moving_variance"),
               "x0": x, "dy0": np.zeros(x.shape)}
        inp["dy"] = inp["dy0"]
        return "batch_norm", cfg, inp
    return None


def mechanism(kgraph, name: str, x: np.ndarray, torch_out: np.ndarray, bound: np.ndarray,
              torch_weights: dict, dtype: str) -> dict:
    """Which torch side of the layer's op pair reproduces ``torch_out`` and the registry entry
    that explains that side on this config."""
    from parity.backends import BackendUnavailable
    from parity.spec.divergences import Registry
    from parity.spec.registry import get
    from parity.exec.runner import _call, repro_snippet, run_case

    case = op_case(kgraph, name, x, torch_weights, dtype)
    if case is None:
        return {"op": None, "text": f"{type(kgraph.by_name[name]).__name__} with these settings "
                                    "maps to no op pair of the registry"}
    op_name, cfg_dict, inp = case
    op = get(op_name)
    cfg = op.parse_config(cfg_dict)
    ratios, y_key = {}, "y0" if op_name == "batch_norm" else "y"
    for vname, variant in op.variants.items():
        if variant.env or variant.torch not in op.torch_sides or vname in ratios:
            continue
        try:
            out, refusal, _ = _call(op.torch_sides[variant.torch], cfg, inp)
        except BackendUnavailable:   # a side from an optional library that is not installed
            continue
        if out is None or y_key not in out or np.shape(out[y_key]) != np.shape(torch_out):
            continue
        ratios[vname] = float(np.max(np.abs(np.asarray(out[y_key], np.float64)
                                            - torch_out) / bound))
    like = min(ratios, key=ratios.get) if ratios else None
    result = {"op": op_name, "config": cfg_dict, "ratios": ratios,
              "behaves_like": like if like is not None and ratios[like] <= 1 else None}
    if result["behaves_like"] is None:
        result["text"] = (f"no torch side of {op_name} reproduces this layer (closest: {like}, "
                          f"bound ratio {ratios[like]:.3g})" if like else
                          f"no torch side of {op_name} runs on this config")
        return result
    variant = result["behaves_like"]
    registry = Registry.load()
    record = run_case(op_name, variant, cfg_dict, seed=0, divergences=registry)
    result["status"] = record["status"]
    result["repro"] = repro_snippet(op_name, variant, cfg_dict, 0, None)
    entry = registry.get(record["divergence"]) if record["divergence"] else None
    if entry is not None:
        result["divergence"] = {"id": entry.id, "mechanism": " ".join(entry.mechanism.split())}
        result["text"] = (f"computes like {op_name}'s {variant!r} side "
                          f"({op.variants[variant].description}): {entry.id}")
    elif variant == "port":
        result["text"] = (f"computes as {op_name} does in TF (like parity.ports); the difference "
                          "comes from its weights or settings")
    else:
        result["text"] = (f"computes like {op_name}'s {variant!r} side, which on this config "
                          f"ends {record['status']} with no registered mechanism")
    return result
