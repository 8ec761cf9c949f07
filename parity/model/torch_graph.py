"""The torch side of a model comparison: its units (modules of a known kind, and leaf modules)
in the order a forward pass calls them, each call's input and output captured by hooks, a
float64 copy, and single units run on given inputs."""
from __future__ import annotations

import copy
from dataclasses import dataclass

import numpy as np

from parity.model import ModelError
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


def modules_of(module, labels: list[str]) -> list:
    """The modules of ``module`` that the call labels name, in order."""
    named = dict(module.named_modules())
    return [named[module_name(lbl)] for lbl in labels]


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


class TorchGraph:
    """``module``: a torch ``nn.Module`` taking one tensor; ``channels_first``: whether its
    activations are NC... (else the same channels-last layout as Keras)."""

    def __init__(self, module, channels_first: bool = True):
        from parity.backends import torch as B

        self.torch = B.torch()
        self.module = module.eval()
        self.channels_first = channels_first
        self._copies = {}
        self.calls: list[Call] = []

    def copy_for(self, dtype: str):
        if dtype not in self._copies:
            m = copy.deepcopy(self.module)
            self._copies[dtype] = m.to(getattr(self.torch, dtype))
        return self._copies[dtype]

    def reset_copies(self) -> None:
        self._copies.clear()

    def run(self, x: np.ndarray, dtype: str, training: bool = False):
        """(calls, {label: (input, output)}) of one forward pass on ``x`` (torch layout)."""
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
                out = module(torch.from_numpy(np.ascontiguousarray(x)).to(getattr(torch, dtype)))
        except Exception as e:  # noqa: BLE001 - the user's model refusing our input
            raise ModelError(f"the torch module failed on the input: {type(e).__name__}: "
                             f"{str(e).splitlines()[0][:300]}") from None
        finally:
            for h in handles:
                h.remove()
        self.calls = calls
        return calls, captured, _np(out)

    def module_named(self, name: str, dtype: str):
        return dict(self.copy_for(dtype).named_modules())[name]

    def call_units(self, names: list[str], xs: list[np.ndarray], dtype: str) -> np.ndarray:
        """The named units applied in turn to the inputs ``xs`` (a separable conv: two
        units; a merge: several inputs)."""
        torch = self.torch
        hs = [torch.from_numpy(np.ascontiguousarray(x)).to(getattr(torch, dtype)) for x in xs]
        with torch.no_grad():
            for name in names:
                m = self.module_named(name, dtype)
                m.eval()
                hs = [m(*hs)]
        return _np(hs[0])


def _np(t):
    if t is None or not hasattr(t, "detach"):
        return None
    return t.detach().cpu().numpy()
