"""Which torch call computes which Keras layer.

Automatic: the Keras layers in graph order and the torch calls in execution order are walked
together; a pair of the same kind is mapped, a layer or call without weights that has no
counterpart is skipped, and a layer with weights that meets a call of another kind ends the
walk with a message naming both. A ``SeparableConv2D`` takes two calls (depthwise, then
pointwise). A user mapping ``{keras_layer: torch_module or [modules]}`` replaces the walk for
the layers it names (the rest are matched automatically around them).
"""
from __future__ import annotations

from parity.model.errors import ModelError
from parity.model.kinds import WEIGHTED, keras_activation, torch_activation


def _compatible(layer, kind: str, call, module) -> bool:
    if kind == "layout":  # Keras flattens (h, w, c), torch (c, h, w): outputs not comparable
        return False
    if kind in ("depthwise",):
        return call.kind == "conv" and module.groups > 1 and module.groups == module.in_channels
    if kind == "conv":
        return call.kind == "conv" and module.groups == getattr(layer, "groups", 1)
    if kind == "activation":
        if call.kind != "activation":
            return False
        a, b = keras_activation(layer), torch_activation(module)
        return a is None or b is None or a == b
    return kind == call.kind


def fused_activation(layer) -> str | None:
    """The activation a weighted Keras layer applies to its own output ('swish', ...), or None."""
    fn = getattr(layer, "activation", None)
    name = getattr(fn, "__name__", None)
    return None if fn is None or name in (None, "linear") or \
        type(layer).__name__ in ("ReLU", "Activation", "LeakyReLU", "ELU", "Softmax") else name


def _compatible_activation(layer, module) -> bool:
    a = {"swish": "silu"}.get(fused_activation(layer), fused_activation(layer))
    b = torch_activation(module)
    return b is None or a == b


def _describe_call(call, module) -> str:
    return f"{call.label!r} ({type(module).__name__})"


def _describe_layer(layer) -> str:
    shapes = ", ".join(f"{w.path.split('/')[-1]} {tuple(w.shape)}" for w in layer.weights)
    return f"{layer.name!r} ({type(layer).__name__}{': ' + shapes if shapes else ''})"


def automatic(kgraph, calls, modules: dict, user: dict | None = None) -> list[tuple[str, list]]:
    """[(keras layer name, [torch call labels])] in Keras order; ``ModelError`` where it fails."""
    user = dict(user or {})
    unknown = set(user) - set(kgraph.by_name)
    if unknown:
        raise ModelError(f"mapping names Keras layers the model does not have: {sorted(unknown)}")
    pinned = {}
    by_name = {}
    for c in calls:
        by_name.setdefault(c.name, []).append(c)
    for k, v in user.items():
        targets = [v] if isinstance(v, str) else list(v)
        labels = []
        for t in targets:
            if t not in by_name:
                raise ModelError(f"mapping: torch module {t!r} (for Keras layer {k!r}) is not "
                                 "called in the forward pass; called units: "
                                 + ", ".join(list(by_name)[:12]) + (" ..." if len(by_name) > 12
                                                                    else ""))
            labels.append(by_name[t][0].label)
        pinned[k] = labels
    taken = {label for labels in pinned.values() for label in labels}
    free = [c for c in calls if c.label not in taken]
    pairs, j = [], 0
    for layer in kgraph.layers:
        kind = kgraph.kind(layer.name)
        if layer.name in pinned:
            pairs.append((layer.name, pinned[layer.name]))
            continue
        while True:
            call = free[j] if j < len(free) else None
            module = modules.get(call.name) if call else None
            if call is not None and kind == "separable":
                nxt = free[j + 1] if j + 1 < len(free) else None
                if call.kind == "conv" and module.groups > 1 and nxt is not None \
                        and nxt.kind == "conv":
                    pairs.append((layer.name, [call.label, nxt.label]))
                    j += 2
                    break
            elif call is not None and _compatible(layer, kind, call, module):
                labels = [call.label]
                j += 1
                nxt = free[j] if j < len(free) else None
                if fused_activation(layer) and nxt is not None and nxt.kind == "activation" \
                        and _compatible_activation(layer, modules.get(nxt.name)):
                    labels.append(nxt.label)  # Keras applies it inside the layer
                    j += 1
                pairs.append((layer.name, labels))
                break
            if kind not in WEIGHTED:
                break  # computed without a module on the torch side: not compared
            if call is not None and call.kind not in WEIGHTED:
                j += 1  # a torch call Keras has no layer for (an extra activation, identity)
                continue
            where = f"the next torch call is {_describe_call(call, module)}" if call else \
                "the torch module has no calls left"
            raise ModelError(f"cannot map Keras layer {_describe_layer(layer)}: {where}; "
                             "pass mapping={keras_layer: torch_module} for it")
    for call in free[j:]:
        if call.kind in WEIGHTED:
            raise ModelError(f"torch call {_describe_call(call, modules.get(call.name))} has "
                             "weights but no Keras layer was mapped to it")
    return pairs
