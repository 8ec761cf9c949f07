"""The cause of a training step's first diverging quantity of each stage.

* forward, backward: the torch counterpart's settings (``carry.hyperparameters``: a
  BatchNorm's eps, a conv's stride); an isolated backward that diverges while the layer's
  forward agrees is the layer's own backward; a propagated gradient that diverges while no
  isolated one behind it does, the accumulation of the layers after it.
* statistics: BatchNorm's update replayed on Keras's exact input to the layer (float64): the
  moving statistic torch holds is matched against the updates each momentum meaning and each
  variance (biased, Keras's; unbiased, torch's) give (registry ``batchnorm-momentum-meaning``).
* update: what the torch optimizer does that Keras's does not (``training_optim.check``), with
  the registry entry of a mechanism no setting fixes.
"""
from __future__ import annotations

import re

import numpy as np

from parity.model import carry
from parity.model.keras_graph import weights_by_name
from parity.model.torch_graph import modules_of

BATCHNORM_ENTRY = "batchnorm-momentum-meaning"
MATCH = 1e-10
"""A replayed update matches torch's value within this much of the statistics' size (both are
float64 values of inputs equal to float64's rounding; the candidates part by more: unbiased and
biased by ``w * var / n``)."""


def cause(kg, tg, pairs, first: dict, keras_side, torch_side, settings: list[str],
          channels_first: bool) -> dict:
    """``{"text", "registry"}`` for the first diverging quantity ``first`` of a stage."""
    stage, kind, layer, weight = (first[k] for k in ("stage", "kind", "layer", "weight"))
    labels = dict(pairs).get(layer, [])
    modules = modules_of(tg.module, labels) if labels else []
    parts = []
    if layer is not None and stage in ("forward", "backward", "statistics"):
        parts += [f"settings: {s}" for s in carry.hyperparameters(kg, layer, modules)
                  if stage == "statistics" or not s.startswith("momentum")]   # (batch stats)
    if kind == "isolated_gradient":
        what = "input" if weight and weight.startswith("input") else weight
        parts.append("the torch layer's backward, fed Keras's input and Keras's gradient of "
                     f"its output, gives another {what} gradient")
        if what == "input":
            parts.append(_padded_max_pool(kg, tg, pairs, layer, modules))
    elif kind in ("output_gradient", "gradient"):
        parts.append("the gradient reaching it from the layers after it parts")
    elif kind == "loss":
        parts.append("every layer's output agrees within its bound and the loss parts")
    elif stage == "statistics":
        have = torch_side["float64"]["history"][0]["after"][first["torch"]]
        parts.append(_statistics(kg, layer, weight, modules, keras_side, have))
    elif stage == "update":
        parts += settings or ["the torch optimizer's update parts while its settings "
                              "match Keras's"]
    parts = [p for p in parts if p]
    text = " | ".join(parts) or "no cause found"
    registry = sorted(set(re.findall(r"registry ([a-z0-9.-]+)", text)))
    return {"text": (f"{layer}: " if layer else "") + text, "registry": registry}


def _statistics(kg, layer: str, weight: str, modules, keras_side, have) -> str:
    """Which BatchNorm update gives the moving statistic the torch side holds."""
    bn = kg.by_name[layer]
    if kg.kind(layer) != "batchnorm" or not modules:
        return ""
    x = np.asarray(keras_side["float64"]["values"][kg.inputs_of[layer][0]], np.float64)
    axis = bn.axis if isinstance(bn.axis, int) else bn.axis[0]
    axis = axis % x.ndim
    axes = tuple(i for i in range(x.ndim) if i != axis)
    n = int(np.prod([x.shape[i] for i in axes]))
    mean, var = x.mean(axis=axes), x.var(axis=axes)
    variance = weight in ("running_var", "moving_variance")
    before = weights_by_name(bn)["moving_variance" if variance else "moving_mean"].numpy(
    ).astype(np.float64)
    have = np.asarray(have, np.float64)
    m = modules[0]
    meanings = {f"Keras's momentum {bn.momentum:g} (new batch weight {1 - bn.momentum:g})":
                1 - bn.momentum}
    own = getattr(m, "momentum", None)
    if hasattr(m, "running_mean") and own is not None:
        meanings.setdefault(f"torch momentum {own:g} (new batch weight {own:g})", own)
    elif own is not None:
        meanings.setdefault(f"momentum {own:g} in Keras's meaning (new batch weight "
                            f"{1 - own:g})", 1 - own)
    batch = {"the biased batch variance (Keras's)": var,
             f"the unbiased batch variance (torch's, n/(n-1) = {n}/{n - 1})":
             var * n / max(n - 1, 1)} if variance else {"the batch mean": mean}
    scale = np.abs(before) + np.abs(np.asarray(next(iter(batch.values())))) + 1e-30
    found = []
    for meaning, w in meanings.items():
        for what, value in batch.items():
            update = before * (1 - w) + value * w
            err = float(np.max(np.abs(update - have) / scale))
            found.append((err, meaning, what))
    found.sort(key=lambda f: f[0])
    same = {round(w, 12) for w in meanings.values()}
    keras = f"Keras updates with Keras's momentum {bn.momentum:g} and " + \
        ("the biased batch variance" if variance else "the batch mean")
    if not found[0][0] < MATCH:
        return (f"{weight} matches no BatchNorm update on Keras's input (each momentum "
                f"meaning, biased or unbiased variance); {keras} (registry {BATCHNORM_ENTRY})")
    matching = [f for f in found if f[0] < MATCH]
    if len(same) > 1 and len({round(meanings[f[1]], 12) for f in matching}) > 1:
        return (f"{weight}: the batch's statistic equals the moving one here, so the update "
                f"cannot tell the momentum meanings apart ({keras}; "
                f"registry {BATCHNORM_ENTRY})")
    _, meaning, what = matching[0]
    return f"{weight} is the update with {meaning} and {what}; {keras} " \
        f"(registry {BATCHNORM_ENTRY})"


def _padded_max_pool(kg, tg, pairs, layer: str, modules) -> str:
    """A Keras ``ZeroPadding2D`` before a max pool that the torch module pads inside its
    ``MaxPool2d(padding=...)``: equal forward after a ReLU, not equal backward."""
    from parity.model.training_keras import keras_segment, keras_starts

    segment = keras_segment(kg, layer, keras_starts(kg, tg, pairs, layer))
    pads = [n for n in segment if kg.kind(n) == "pad"]
    padding = getattr(modules[0], "padding", 0) if modules else 0
    if kg.kind(layer) != "maxpool" or not pads or not any(
            p for p in np.atleast_1d(padding)):
        return ""
    return (f"Keras pads with zeros ({pads[0]}) before the max pool, torch's "
            f"{type(modules[0]).__name__}(padding={padding}) with -inf: the same forward on "
            "values >= 0 (after a ReLU), another backward where a window's maximum is a 0 that "
            "ties with the pad (Keras gives its gradient to the pad, which drops it; torch to "
            "the real 0)")
