"""Which torch node computes which Keras layer, by the dataflow of both graphs.

The Keras layers are taken in graph order; each is matched to a torch node of a compatible kind
that reads the same values: the nearest matched nodes upstream of it (walking back through
what is not matched: ``F.pad``, ``x + y``, an activation written as a function, a Keras
``ZeroPadding2D`` or ``Add``) must be the counterparts of the Keras layer's nearest matched
layers upstream. So a ResNet's shortcut conv, run after the block's third conv in torch and
listed before it by Keras, is matched to the conv that reads the block's input, and branches
are matched as branches. Where several nodes qualify (parallel convs reading one tensor), the
one whose parameter shapes take the layer's weights is chosen, then the first in call order.
A Keras layer with a fused activation also takes the activation that reads its conv alone
(a module, or a function such as ``F.relu`` in ``forward``); a ``SeparableConv2D`` takes the
depthwise conv and the pointwise conv that reads it.
Layers without weights that find no counterpart are left uncompared (their values are still
compared at the next matched layer); a layer with weights that finds none is an error naming
the last pair matched upstream and the candidates. A user mapping pins the layers it names.
"""
from __future__ import annotations

from parity.model.errors import ModelError
from parity.model.kinds import WEIGHTED
from parity.model.mapping import (_compatible, _compatible_activation, _describe_call,
                                  _describe_layer, fused_activation)
from parity.model.torch_graph import INPUT, module_name

KERAS_INPUT = "<input>"


def _fits_weights(kgraph, name: str, module) -> bool:
    """Whether ``module``'s parameters have the shapes of the Keras layer's weights (carried)."""
    from parity.model.carry import expected

    try:
        want = expected(kgraph, name, [module])
    except Exception:  # noqa: BLE001 - a layer whose weights carry cannot state
        return True
    for (_, pname), array in want.items():
        have = getattr(module, pname, None)
        if have is None or tuple(getattr(have, "shape", ())) != tuple(array.shape):
            return False
    return True


class _Walk:
    def __init__(self, kgraph, tgraph, modules: dict):
        self.kg, self.tg, self.modules = kgraph, tgraph, modules
        self.nodes = {n.label: n for n in tgraph.nodes}
        self.consumers: dict[str, list[str]] = {n.label: [] for n in tgraph.nodes}
        for n in tgraph.nodes:
            for i in n.inputs:
                self.consumers[i].append(n.label)
        self.k2t: dict[str, str] = {KERAS_INPUT: INPUT}    # keras layer -> torch output node
        self.taken: set[str] = {INPUT}
        self._k_anc: dict[str, frozenset] = {}
        self.structure: dict[str, str] = {}   # layer -> how its inputs differ (_structural)

    def keras_upstream(self, name: str) -> frozenset:
        """The nearest matched Keras layers (or the input) that ``name`` reads."""
        out = set()
        for src in self.kg.inputs_of[name]:
            if src == self.kg.input_name:
                out.add(KERAS_INPUT)
            elif src in self.k2t:
                out.add(src)
            else:
                if src not in self._k_anc:
                    self._k_anc[src] = self.keras_upstream(src)
                out |= self._k_anc[src]
        return frozenset(out)

    def torch_upstream(self, label: str) -> frozenset:
        """The nearest matched torch nodes (or the input) that ``label`` reads; a node with
        weights not matched yet stops the walk too (what comes after it cannot be the
        counterpart of a layer that reads what comes before it)."""
        out, todo, seen = set(), list(self.nodes[label].inputs), set()
        while todo:
            i = todo.pop()
            if i in seen:
                continue
            seen.add(i)
            if i in self.taken or self.nodes[i].kind in WEIGHTED:
                out.add(i)
            else:
                todo += self.nodes[i].inputs
        return frozenset(out)

    def candidates(self, name: str, kind: str) -> list[str]:
        want = frozenset(self.k2t[k] for k in self.keras_upstream(name))
        layer = self.kg.by_name[name]
        found = []
        merge = _MERGE_KIND.get(type(layer).__name__) if kind == "merge" else None
        for n in self.tg.nodes:
            if n.label in self.taken:
                continue
            if merge is not None and n.kind == merge:   # x + y in forward for Keras's Add
                if self.torch_upstream(n.label) == want:
                    found.append(n.label)
                continue
            if n.op != "call_module":
                continue
            module = self.modules.get(module_name(n.label))
            call = _CallView(n)
            if kind == "separable":
                ok = n.kind == "conv" and module is not None and module.groups > 1
            else:
                ok = module is not None and _compatible(layer, kind, call, module)
            if ok and self.torch_upstream(n.label) == want:
                found.append(n.label)
        if not found and kind in WEIGHTED and kind != "separable":
            found = self._structural(name, kind, want)
        if len(found) > 1 and kind in WEIGHTED and kind != "separable":
            fitting = [c for c in found if _fits_weights(self.kg, name,
                                                         self.modules[module_name(c)])]
            found = fitting or found
        return found

    def _structural(self, name: str, kind: str, want: frozenset) -> list[str]:
        """Where no node of the layer's kind reads the same values: the one whose parameters
        take its weights and that reads part of them, or more (a residual ``+`` left out, a
        branch added), first in call order; ``structure`` says how the inputs differ, and the
        values decide (the torch segment computes from what it reads)."""
        layer, t2k = self.kg.by_name[name], {v: k for k, v in self.k2t.items()}
        for n in self.tg.nodes:
            module = self.modules.get(module_name(n.label))
            if n.label in self.taken or n.op != "call_module" or module is None or \
                    not _compatible(layer, kind, _CallView(n), module):
                continue
            have = self.torch_upstream(n.label)
            if have and (have < want or have > want) and _fits_weights(self.kg, name, module):
                keras_side = sorted(t2k[t] for t in want)
                torch_side = sorted(t2k.get(t, t) for t in have)
                self.structure[name] = (
                    f"its input comes from {' and '.join(keras_side)} in Keras, from "
                    f"{' and '.join(torch_side)} in torch (a branch "
                    f"{'missing' if have < want else 'added'} on the torch side)")
                return [n.label]
        return []

    def labels_for(self, name: str, kind: str, first: str) -> list[str]:
        """The node ``first`` and what the layer also covers after it: the pointwise conv of a
        separable conv, the activation module of a fused activation."""
        labels = [first]
        after = [c for c in self.consumers[first] if c not in self.taken]
        if kind == "separable":
            pw = [c for c in after if self.nodes[c].kind == "conv"]
            if len(pw) != 1 or len(self.consumers[first]) != 1:
                return []
            labels.append(pw[0])
            after = [c for c in self.consumers[pw[0]] if c not in self.taken]
        layer = self.kg.by_name[name]
        if self.nodes[first].op != "call_module":
            return labels
        if fused_activation(layer) and len(after) == 1 and len(self.consumers[labels[-1]]) == 1:
            nxt = self.nodes[after[0]]
            act = {"swish": "silu"}.get(fused_activation(layer), fused_activation(layer))
            if nxt.op == "call_module" and nxt.kind == "activation" and \
                    _compatible_activation(layer, self.modules.get(module_name(nxt.label))):
                labels.append(nxt.label)
            elif nxt.kind == f"fn:act:{act}":   # F.relu(x) in forward
                labels.append(nxt.label)
        return labels

    def affine_chain(self, name: str, kind: str) -> list[str]:
        """A BatchNormalization as a converter writes it, ``x * scale + shift``, or a Dense as
        ``x @ W + b`` (functions, or modules of one operation each, on constants): the two
        nodes, where the first reads what the Keras layer reads."""
        first_kind = {"batchnorm": "fn:mul", "dense": "fn:matmul"}.get(kind)
        if first_kind is None:
            return []
        want = frozenset(self.k2t[k] for k in self.keras_upstream(name))
        for n in self.tg.nodes:
            if n.label in self.taken or n.kind != first_kind or not self._one_tensor_input(n):
                continue
            if self.torch_upstream(n.label) != want:
                continue
            after = self.consumers[n.label]
            if len(after) == 1 and self.nodes[after[0]].kind == "fn:add" and \
                    self._one_tensor_input(self.nodes[after[0]]):
                return [n.label, after[0]]
        return []

    def _one_tensor_input(self, node) -> bool:
        kinds = [self.nodes[i].kind == "constant" for i in node.inputs]
        return kinds.count(False) == 1 and kinds.count(True) == 1

    def take(self, name: str, labels: list[str]) -> None:
        self.k2t[name] = labels[-1]
        self.taken |= set(labels)


_MERGE_KIND = {"Add": "fn:add", "Concatenate": "fn:cat", "Multiply": "fn:mul",
               "Subtract": "fn:sub"}
"""Keras merge layers and the ``forward`` code that computes them (``TorchGraph`` node kinds)."""


class _CallView:
    """A ``Node`` seen as a ``Call`` by ``mapping._compatible``."""

    def __init__(self, node):
        self.kind, self.label, self.name = node.kind, node.label, module_name(node.label)


def automatic(kgraph, tgraph, modules: dict, user: dict | None = None,
              structure: dict | None = None) -> list[tuple[str, list]]:
    """[(keras layer name, [torch node labels])] in Keras order; ``ModelError`` where a layer
    with weights finds no counterpart, or a torch unit with weights is left over.
    ``structure`` (a dict) receives {layer: text} for layers matched where the two graphs'
    dataflow differs (``_Walk._structural``)."""
    user = dict(user or {})
    unknown = set(user) - set(kgraph.by_name)
    if unknown:
        raise ModelError(f"mapping names Keras layers the model does not have: {sorted(unknown)}")
    walk = _Walk(kgraph, tgraph, modules)
    calls = [n.label for n in tgraph.nodes if n.op == "call_module"]
    pinned = {}
    for k, v in user.items():
        labels = []
        for t in [v] if isinstance(v, str) else list(v):
            if t not in calls:
                raise ModelError(f"mapping: torch module {t!r} (for Keras layer {k!r}) is not "
                                 "called in the forward pass; called units: "
                                 + ", ".join(calls[:12]) + (" ..." if len(calls) > 12 else ""))
            labels.append(t)
        pinned[k] = labels
    for labels in pinned.values():
        walk.taken |= set(labels)
    pairs, last = [], None
    for layer in kgraph.layers:
        name, kind = layer.name, kgraph.kind(layer.name)
        if name in pinned:
            walk.k2t[name] = pinned[name][-1]
            pairs.append((name, pinned[name]))
            last = (name, pinned[name][-1])
            continue
        found = walk.candidates(name, kind)
        labels = walk.labels_for(name, kind, found[0]) if found else \
            walk.affine_chain(name, kind)
        if labels:
            walk.take(name, labels)
            pairs.append((name, labels))
            last = (name, labels[-1])
            continue
        if kind not in WEIGHTED:
            continue   # computed without a module on the torch side: not compared
        upstream = sorted(walk.keras_upstream(name))
        open_calls = [c for c in calls if c not in walk.taken]
        where = (f"no torch module of that kind reads what it reads (the counterparts of "
                 f"{', '.join(upstream)})")
        if last:
            where += f"; last matched: Keras {last[0]!r} = torch {last[1]!r}"
        if open_calls:
            nxt = open_calls[0]
            where += "; next unmatched torch call: " + _describe_call(
                _CallView(walk.nodes[nxt]), modules.get(module_name(nxt)))
        raise ModelError(f"cannot map Keras layer {_describe_layer(layer)}: {where}; "
                         "pass mapping={keras_layer: torch_module} for it")
    if structure is not None:
        structure.update(walk.structure)
    for label in calls:
        if label not in walk.taken and walk.nodes[label].kind in WEIGHTED:
            call = _describe_call(_CallView(walk.nodes[label]), modules.get(module_name(label)))
            raise ModelError(f"torch call {call} has weights but no Keras layer was mapped to it")
    return pairs


def upstream_values(kgraph, tgraph, pairs: list[tuple[str, list]], name: str) -> dict[str, str]:
    """{torch node label: Keras layer (or ``KERAS_INPUT``)} where the torch segment of the Keras
    layer ``name`` starts: the matched nodes (or the input) its first node reads."""
    k2t = {KERAS_INPUT: INPUT} | {k: labels[-1] for k, labels in pairs}
    t2k = {v: k for k, v in k2t.items()}
    labels = dict(pairs)[name]
    walk = _Walk(kgraph, tgraph, {})
    walk.taken = set(t2k) | set(labels)
    starts = set()
    for label in labels:
        starts |= walk.torch_upstream(label) - set(labels)
    return {s: t2k[s] for s in starts}


def keras_order_flattens(kgraph, tgraph, pairs: list[tuple[str, list]],
                         input_first: bool = True) -> set[str]:
    """The Dense layers reading a ``Flatten`` of an image whose torch counterpart flattens it
    in Keras's own ``(h, w, c)`` order, not torch's ``(c, h, w)`` (tf2onnx transposes back to
    channels-last before its Reshape): found by running the torch code between the image and
    the Dense on a probe whose values are the Keras flatten positions, in increasing order."""
    import numpy as np

    from parity.model.carry import flatten_source_shape
    from parity.core.layout import torch_layout

    nodes = {n.label: n for n in tgraph.nodes}
    found = set()
    for name, labels in pairs:
        shape = flatten_source_shape(kgraph, name) if kgraph.kind(name) == "dense" else None
        starts = upstream_values(kgraph, tgraph, pairs, name) if shape else {}
        feeding = [i for i in nodes[labels[0]].inputs if nodes[i].kind != "constant"] \
            if starts else []
        if len(starts) != 1 or len(feeding) != 1:
            continue
        (start, source), = starts.items()
        at = kgraph.input_shape if source == KERAS_INPUT else \
            tuple(kgraph.by_name[source].output.shape[1:])
        if tuple(at) != tuple(shape):
            continue
        probe = np.arange(1.0, np.prod(shape) + 1.0).reshape(1, *shape)
        try:
            flat = tgraph.call_segment(feeding[0], {start: torch_layout(
                probe, input_first if source == KERAS_INPUT else True)}, "float64")
        except Exception:  # noqa: BLE001 - code the probe cannot run through: torch's order
            continue
        flat = np.asarray(flat).reshape(-1)
        if flat.size == probe.size and \
                np.array_equal(np.argsort(flat, kind="stable"), np.arange(flat.size)):
            found.add(name)
    return found
