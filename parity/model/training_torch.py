"""The torch side of a training step, as its users write it: ``module.train()``,
``loss.backward()``, ``optimizer.step()``; every mapped layer's output tapped by an identity
autograd function (a clone: a later in-place op, ``ReLU(inplace=True)``, rewrites the clone's
successor, never the value or the gradient taken); and each layer's backward alone (the torch
segment fed Keras's values and Keras's gradient of its output). The caller's module and copies
are left as they were."""
from __future__ import annotations

import copy

import numpy as np

from parity.model import dataflow
from parity.model.torch_graph import _np, module_name, modules_of
from parity.model.training_keras import loss_value


def torch_random_off(module) -> list[str]:
    """Every dropout module of ``module`` (a copy) made the identity (``p = 0``)."""
    import torch

    found = []
    for name, m in module.named_modules():
        if isinstance(m, (torch.nn.modules.dropout._DropoutNd,   # noqa: SLF001
                          torch.nn.AlphaDropout, torch.nn.FeatureAlphaDropout)):
            m.p = 0.0
            found.append(name)
    return found


def _tap_class():
    import torch

    class Tap(torch.autograd.Function):
        """The identity, keeping the gradient that reaches it in ``store[key]``."""

        @staticmethod
        def forward(ctx, x, key, store):
            ctx.key, ctx.store = key, store
            return x.clone()

        @staticmethod
        def backward(ctx, g):
            ctx.store[ctx.key] = g.detach().cpu().numpy().copy()
            return g, None, None
    return Tap


def torch_steps(tg, dtype: str, x, y, loss: str, make_optimizer, taps: list[str],
                steps: int, isolate=None) -> dict:
    """``steps`` steps of the ``dtype`` copy of the torch module (a fresh copy: the caller's
    copies are left as they were), the first with the output of every node of ``taps`` and
    its gradient captured; ``isolate(module, forward values)``, where given, runs on a copy of
    the weights before the step (the isolated backward). Returns as ``keras_steps`` does, in
    torch's names."""
    base = copy.deepcopy(tg.copy_for(dtype))
    result = {"random_off": torch_random_off(base)}
    module = copy.deepcopy(base)
    before = copy.deepcopy(base) if isolate is not None else None
    result["history"] = []
    module.train()
    optimizer = make_optimizer(module.parameters())
    xt, target = tg.tensor(x, dtype), tg.tensor(y, dtype)
    xt.requires_grad_(True)   # the layers before the first weight are recorded too
    for s in range(steps):
        values, grads = {}, {}
        out = _tapped_forward(tg, module, xt, taps if s == 0 else [], values, grads)
        value = loss_value("torch", loss, out, target)
        module.zero_grad(set_to_none=True)
        value.backward()
        if s == 0:
            result["forward"], result["output_gradient"] = values, grads
        record = {"loss": float(value.detach()),
                  "gradient": {n: p.grad.detach().numpy().copy()
                               for n, p in module.named_parameters() if p.grad is not None}}
        optimizer.step()
        record["after"] = {n: t.detach().numpy().copy() for n, t in
                           [*module.named_parameters(), *module.named_buffers()]}
        result["history"].append(record)
    if isolate is not None:
        result["isolated"] = isolate(before, result.get("forward", {}))
    return result


def _tapped_forward(tg, module, xt, taps: list[str], values: dict, grads: dict):
    """The module's output on ``xt``, the nodes (labels) of ``taps`` tapped: their values in
    ``values``, their gradients, once the loss is taken back, in ``grads``."""
    torch = tg.torch
    Tap = _tap_class()
    wanted = set(taps)

    def tap(label, out):
        if label not in wanted or not isinstance(out, torch.Tensor) or \
                not out.is_floating_point():
            return out
        values[label] = _np(out)
        return Tap.apply(out, label, grads)
    if not wanted or tg._graph is None:   # noqa: SLF001 - the traced graph, or hooks
        handles, seen = [], {}
        named = dict(module.named_modules())
        for label in wanted:
            def hook(_m, _args, out, name=module_name(label)):
                k = seen.get(name, 0)
                seen[name] = k + 1
                return tap(name if k == 0 else f"{name}#{k}", out)
            if module_name(label) in named:
                handles.append(named[module_name(label)].register_forward_hook(hook))
        try:
            return module(xt)
        finally:
            for h in handles:
                h.remove()
    fx = torch.fx
    by_fx = tg._labels   # noqa: SLF001

    class Tapped(fx.Interpreter):
        def run_node(self, n):
            out = super().run_node(n)
            return out if n.op == "output" else tap(by_fx[n.name], out)
    return Tapped(fx.GraphModule(module, tg._graph)).run(xt)   # noqa: SLF001


def torch_isolated(kg, tg, pairs, names: list[str], keras_values: dict, upstream: dict,
                   layout):
    """A function of a module (a copy of the torch weights before the step) giving, for each
    Keras layer of ``names``, its torch counterpart alone in training mode, fed Keras's inputs
    (``keras_values``: Keras-layout values by Keras layer, the input as ``KERAS_INPUT``;
    ``layout(name, value, keras source, torch label, torch forward values)`` puts one in the
    torch node's layout) and
    taken back from Keras's gradient of the output (``upstream[name]``, already in the torch
    node's layout): ``{name: {"input": {keras source: grad}, param name: grad}}``, or
    ``{name: {"error": text}}``."""
    def run(module, forward: dict):
        torch = tg.torch
        module.train()
        found = {}
        named = {m: n for n, m in module.named_modules()}
        for name in names:
            labels = dict(pairs)[name]
            try:
                module.zero_grad(set_to_none=True)
                if tg.nodes is not None:
                    starts = dataflow.upstream_values(kg, tg, pairs, name)
                else:   # the Keras layer's inputs, in order, fed to its modules in turn
                    starts = {f"<{i}>": src for i, src in enumerate(kg.inputs_of[name])}
                ins = {s: torch.tensor(layout(name, keras_values[k], k, s, forward),
                                       requires_grad=True) for s, k in starts.items()}
                fed = {s: t.clone() for s, t in ins.items()}   # in-place ops write the clone
                if tg.nodes is not None:
                    out = tg.run_segment(module, labels[-1], fed)
                else:
                    out = list(fed.values())
                    for m in modules_of(module, labels):
                        out = [m(*out)]
                    out = out[0]
                g = torch.from_numpy(np.ascontiguousarray(upstream[name])).to(out.dtype)
                out.backward(g.reshape(out.shape))
                entry = {"input": {k: (None if ins[s].grad is None else _np(ins[s].grad))
                                   for s, k in starts.items()}}
                for m in modules_of(module, labels):
                    prefix = named[m]
                    for pname, p in m.named_parameters(recurse=False):
                        if p.grad is not None:
                            entry[f"{prefix}.{pname}" if prefix else pname] = _np(p.grad)
                found[name] = entry
            except Exception as e:  # noqa: BLE001 - the layer refusing Keras's values
                found[name] = {"error": f"{type(e).__name__}: {str(e).splitlines()[0][:200]}"}
        return found
    return run
