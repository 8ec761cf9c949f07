"""The torch side of a model comparison: its units (modules of a known kind, and leaf modules)
in the order a forward pass calls them, each call's input and output captured (as copies: a
later in-place op never rewrites them), a float64 copy, and single units or whole segments of
the graph run on given inputs.

The graph comes from ``torch.fx`` (symbolic tracing, the units as leaves), so the functional
code of ``forward`` (``F.pad``, ``x + y``, ``torch.cat``, ``flatten``, in-place ``relu_``) is
made of nodes too, each with the nodes it reads (``nodes``: the dataflow the mapping follows).
A module fx cannot trace (control flow on values) is run with forward hooks instead: its units
in call order, with no dataflow (``nodes`` is None).
"""
from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np

from parity.model.errors import ModelError
from parity.model.kinds import torch_kind


@dataclass
class Call:
    """One call of a unit in a forward pass (a module called twice gives two calls)."""
    name: str          # the module's qualified name
    occurrence: int    # 0 for its first call, 1 for the second, ...
    kind: str          # a kind of parity.model.kinds, or "other"

    @property
    def label(self) -> str:
        return self.name if self.occurrence == 0 else f"{self.name}#{self.occurrence}"


def module_name(label: str) -> str:
    """The module a call label ('layer#1': its second call) belongs to."""
    return label.split("#")[0]


def weighted_labels(module, labels: list[str]) -> list[str]:
    """The labels of ``labels`` that name modules of ``module`` (a function node of ``forward``,
    ``x + y``, names none), those with weights alone where some have them (a mapping
    ``["pad1", "conv"]``: the conv takes the weights)."""
    named = dict(module.named_modules())
    called = [lbl for lbl in labels if module_name(lbl) in named]
    weighted = [lbl for lbl in called if any(True for _ in named[module_name(lbl)].parameters())
                or any(True for _ in named[module_name(lbl)].buffers())]
    return weighted or called


def modules_of(module, labels: list[str]) -> list:
    """The modules of ``weighted_labels(module, labels)``, in order."""
    named = dict(module.named_modules())
    return [named[module_name(lbl)] for lbl in weighted_labels(module, labels)]


def units(module) -> dict:
    """Qualified name -> module for every unit: a module of a known kind (not descended
    into), or a leaf module of no known kind."""
    found = {}

    def walk(prefix, m):
        for name, child in m.named_children():
            full = f"{prefix}.{name}" if prefix else name
            if torch_kind(child) is not None or not any(True for _ in child.children()):
                found[full] = child
            else:
                walk(full, child)
    walk("", module)
    if not found:
        found[""] = module
    return found


@dataclass
class Node:
    """One node of the traced graph: a unit's call (``label`` as ``Call.label``), a function or
    method of ``forward`` (fx's node name), or the input (``INPUT``)."""
    label: str
    op: str            # placeholder, call_module, call_function, call_method, get_attr
    kind: str          # a unit's kind, a function's (``function_kind``), or "constant"
    inputs: list[str]  # labels of the nodes it reads
    target: str = ""   # a constant's attribute path (get_attr)


INPUT = "input"


class TorchGraph:
    """``module``: a torch ``nn.Module`` taking one tensor; ``channels_first``: whether its
    activations are NC... (else the same channels-last layout as Keras)."""

    def __init__(self, module, channels_first: bool = True):
        from parity.backends import torch as B

        self.torch = B.torch()
        self.module = module.eval()
        self.channels_first = channels_first
        self._copies = {}
        self.exact: dict[str, np.ndarray] = {}   # attribute path -> its float64 value
        self.calls: list[Call] = []
        self._graph, self.nodes, self._labels = self._trace()

    def _trace(self):
        """(fx graph, [Node], {fx node name: label}) of the module with its units as leaves, or
        (None, None, {}) where fx cannot trace it."""
        fx = self.torch.fx
        found = units(self.module)
        if set(found) == {""}:
            return None, None, {}
        leaves = set(found)

        class Tracer(fx.Tracer):
            def is_leaf_module(self, m, qualname):
                return qualname in leaves or super().is_leaf_module(m, qualname)
        try:
            graph = Tracer().trace(self.module)
        except Exception:  # noqa: BLE001 - control flow on values, unsupported calls: hooks
            return None, None, {}
        labels, nodes, seen = {}, [], {}
        for n in graph.nodes:
            if n.op == "output":
                continue
            if n.op == "placeholder":
                if labels:   # a second input: not a module of one tensor
                    return None, None, {}
                label, kind = INPUT, "input"
            elif n.op == "call_module":
                k = seen.get(n.target, 0)
                seen[n.target] = k + 1
                label = n.target if k == 0 else f"{n.target}#{k}"
                unit = found.get(n.target)
                kind = (torch_kind(unit) or module_op_kind(unit, n)) if unit is not None else None
                kind = kind or "other"
            elif n.op == "get_attr":
                label, kind = n.name, "constant"
            else:
                label, kind = n.name, function_kind(n)
            labels[n.name] = label
            nodes.append(Node(label, n.op, kind, [labels[a.name] for a in n.all_input_nodes],
                              n.target if n.op == "get_attr" else ""))
        return graph, nodes, labels

    def copy_for(self, dtype: str):
        if dtype not in self._copies:
            m = copy.deepcopy(self.module)
            m = m.to(getattr(self.torch, dtype))
            if dtype == "float64":   # constants carried from values float32 cannot hold
                for path, value in self.exact.items():
                    self.attribute(m, path).copy_(self.torch.from_numpy(value))
            self._copies[dtype] = m
        return self._copies[dtype]

    def tensor(self, a: np.ndarray, dtype: str):
        """A torch tensor of its own holding ``a``'s values: an in-place op of the module
        (``ReLU(inplace=True)``, ``out += identity``) never writes into the caller's array
        (Keras's values, fed to a segment, are read again later)."""
        return self.torch.from_numpy(np.array(a, dtype=dtype, copy=True))

    @staticmethod
    def attribute(module, path: str):
        obj = module
        for part in path.split("."):
            obj = getattr(obj, part)
        return obj

    def reset_copies(self) -> None:
        self._copies.clear()

    def run(self, x: np.ndarray, dtype: str, training: bool = False):
        """(calls, {label: (input, output)}, output) of one forward pass on ``x`` (torch layout);
        traced, every node's label is in the dict (a function's output as ``(None, output)``)."""
        if self._graph is not None:
            return self._run_traced(x, dtype, training)
        torch = self.torch
        module = self.copy_for(dtype)
        module.train(training)
        found = units(module)
        calls, seen, captured, handles = [], {}, {}, []

        def hook_for(name, kind):
            def hook(_mod, args, out):
                k = seen.get(name, 0)
                seen[name] = k + 1
                call = Call(name, k, kind)
                calls.append(call)
                first = args[0] if args else None
                captured[call.label] = (_np(first), _np(out))
            return hook
        for name, m in found.items():
            handles.append(m.register_forward_hook(hook_for(name, torch_kind(m) or "other")))
        try:
            with torch.set_grad_enabled(False):
                out = module(self.tensor(x, dtype))
        except Exception as e:  # noqa: BLE001 - the user's model refusing our input
            raise ModelError(f"the torch module failed on the input: {type(e).__name__}: "
                             f"{str(e).splitlines()[0][:300]}") from None
        finally:
            for h in handles:
                h.remove()
        self.calls = calls
        return calls, captured, _np(out)

    def _run_traced(self, x: np.ndarray, dtype: str, training: bool):
        torch, fx = self.torch, self.torch.fx
        module = self.copy_for(dtype)
        module.train(training)
        gm = fx.GraphModule(module, self._graph)
        nodes, by_fx = iter(self.nodes), self._labels
        captured, calls = {}, []

        class Capture(fx.Interpreter):
            def run_node(self, n):
                out = super().run_node(n)
                if n.op == "output":
                    return out
                node = next(nodes)
                first = next(iter(n.all_input_nodes), None)
                captured[node.label] = (captured[by_fx[first.name]][1] if first is not None
                                        and by_fx[first.name] in captured else None, _np(out))
                if n.op == "call_module":
                    name, _, k = node.label.partition("#")
                    calls.append(Call(name, int(k or 0), node.kind))
                return out
        try:
            with torch.set_grad_enabled(False):
                out = Capture(gm).run(self.tensor(x, dtype))
        except Exception as e:  # noqa: BLE001 - the user's model refusing our input
            raise ModelError(f"the torch module failed on the input: {type(e).__name__}: "
                             f"{str(e).splitlines()[0][:300]}") from None
        self.calls = calls
        return calls, captured, _np(out)

    def segment(self, output: str, boundary: set[str]) -> list[str]:
        """The labels of the nodes that compute ``output`` from the ``boundary`` nodes' values,
        in graph order (``output`` included, the boundary not)."""
        by_label = {n.label: n for n in self.nodes}
        needed, todo = set(), [output]
        while todo:
            label = todo.pop()
            if label in needed or label in boundary:
                continue
            if label == INPUT:
                raise ModelError(f"torch node {output!r} reads the input past the nodes given")
            needed.add(label)
            todo += by_label[label].inputs
        return [n.label for n in self.nodes if n.label in needed]

    def call_segment(self, output: str, values: dict[str, np.ndarray], dtype: str) -> np.ndarray:
        """The value of node ``output`` computed from ``values`` ({label: array}) given for the
        nodes where the segment starts (``segment``): a Keras layer's counterpart with the
        functional code around it (a pad before the conv, a crop after it)."""
        module = self.copy_for(dtype)
        module.eval()
        with self.torch.no_grad():
            out = self.run_segment(module, output, {k: self.tensor(v, dtype)
                                                    for k, v in values.items()})
        return _np(out)

    def run_segment(self, module, output: str, inputs: dict):
        """The tensor of node ``output`` that ``module`` (this graph's module or a copy, in
        the mode and grad state the caller set) computes from ``inputs`` ({label: tensor})."""
        fx = self.torch.fx
        labels = set(self.segment(output, set(inputs)))
        env = dict(inputs)
        named = dict(module.named_modules())
        for n, node in zip((m for m in self._graph.nodes if m.op != "output"), self.nodes):
            if node.label not in labels:
                continue
            args = fx.node.map_arg(n.args, lambda a: env[self._labels[a.name]])
            kwargs = fx.node.map_arg(n.kwargs, lambda a: env[self._labels[a.name]])
            if n.op == "call_module":
                env[node.label] = named[n.target](*args, **kwargs)
            elif n.op == "call_function":
                env[node.label] = n.target(*args, **kwargs)
            elif n.op == "call_method":
                env[node.label] = getattr(args[0], n.target)(*args[1:], **kwargs)
            elif n.op == "get_attr":
                env[node.label] = self.attribute(module, n.target)
        return env[output]

    def module_named(self, name: str, dtype: str):
        return dict(self.copy_for(dtype).named_modules())[name]

    def call_units(self, names: list[str], xs: list[np.ndarray], dtype: str) -> np.ndarray:
        """The named units applied in turn to the inputs ``xs`` (a separable conv: two
        units; a merge: several inputs)."""
        torch = self.torch
        hs = [self.tensor(x, dtype) for x in xs]
        with torch.no_grad():
            for name in names:
                m = self.module_named(name, dtype)
                m.eval()
                hs = [m(*hs)]
        return _np(hs[0])


_MERGES = {"add": "fn:add", "add_": "fn:add", "iadd": "fn:add", "cat": "fn:cat",
           "concat": "fn:cat", "mul": "fn:mul", "mul_": "fn:mul", "imul": "fn:mul",
           "sub": "fn:sub", "isub": "fn:sub", "matmul": "fn:matmul"}


_ACTIVATIONS = {"relu": "relu", "relu_": "relu", "relu6": "relu6", "sigmoid": "sigmoid",
                "sigmoid_": "sigmoid", "silu": "silu", "silu_": "silu", "tanh": "tanh",
                "tanh_": "tanh", "gelu": "gelu", "hardswish": "hard_silu", "softmax": "softmax",
                "elu": "elu", "leaky_relu": "leaky_relu"}
"""Activations written as functions (``F.relu``, ``torch.sigmoid``, ``x.relu_()``): node kind
``fn:act:<name>``, the names of ``parity.model.kinds``' activations."""


def function_kind(fx_node) -> str:
    """A function or method node of ``forward``: ``fn:add`` for ``x + y``, ``out += y``,
    ``torch.add``; ``fn:cat``, ``fn:mul``, ``fn:sub`` likewise (only nodes of two or more
    tensors: ``x + 1`` is not a merge); ``fn:act:relu`` for ``F.relu(x)``; else ``function``."""
    name = fx_node.target if isinstance(fx_node.target, str) else \
        getattr(fx_node.target, "__name__", "")
    kind = _MERGES.get(name)
    if kind is None:
        act = _ACTIVATIONS.get(name)
        return f"fn:act:{act}" if act and len(fx_node.all_input_nodes) == 1 else "function"
    if kind == "fn:cat":
        return kind
    return kind if len(fx_node.all_input_nodes) >= 2 else "function"


def module_op_kind(module, fx_node) -> str | None:
    """A module that only applies one tensor operation to two inputs, as converters write
    them (onnx2torch's ``OnnxBinaryMathOperation`` holds it as ``math_op_function``, its
    ``OnnxMatMul`` calls ``torch.matmul``): the kind ``function_kind`` gives that operation."""
    fn = getattr(module, "math_op_function", None)
    name = getattr(fn, "__name__", None) or ("matmul" if type(module).__name__ == "OnnxMatMul"
                                             else None)
    kind = _MERGES.get(name or "")
    return kind if kind is not None and len(fx_node.all_input_nodes) >= 2 else None


def _np(t):
    """A copy of ``t``'s values as they are now: a later in-place op (``ReLU(inplace=True)``,
    ``x += y``) rewrites the tensor, never the copy."""
    if t is None or not hasattr(t, "detach"):
        return None
    return t.detach().cpu().numpy().copy()


def chain_constants(tgraph, labels: list[str]) -> list[str] | None:
    """The attribute paths of the constants of an ``affine_chain`` (scale or W, then shift), or
    None where ``labels`` are not one."""
    nodes = {n.label: n for n in tgraph.nodes or []}
    if len(labels) != 2 or any(nodes.get(lbl) is None or not nodes[lbl].kind.startswith("fn:")
                               for lbl in labels):
        return None
    paths = []
    for lbl in labels:
        const = [nodes[i] for i in nodes[lbl].inputs if nodes[i].kind == "constant"]
        if len(const) != 1:
            return None
        paths.append(const[0].target)
    return paths
