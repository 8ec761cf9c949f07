"""Running one side of a case: outputs and gradients in the canonical (torch) layout.

Shared by every op family. Frameworks come from ``parity.backends`` when a side runs.
"""
from __future__ import annotations

from typing import Callable

from parity import layout
from parity.registry import gradient_refused

GRADIENT_OF = ("x", "w", "b")
LAYOUT_FREE = {"y_from_tf": lambda a: a, "dy_to_tf": lambda a: a}


def torch_run(dtype: str, inp: dict, fn: Callable, params=GRADIENT_OF) -> dict:
    """``y = fn(*tensors)`` for the ``params`` present in ``inp`` (None for absent ones, e.g. no
    bias); then, when ``y`` has the shape of ``inp["dy"]``, ``d<name>`` for each tensor."""
    from parity.backends import torch as B

    tensors = {n: B.tensor(inp[n], dtype, True) for n in params if n in inp}
    y = fn(*(tensors.get(n) for n in params))
    out = {"y": B.to_numpy(y)}
    if tuple(y.shape) != inp["dy"].shape:
        return out
    try:
        y.backward(B.tensor(inp["dy"], dtype))
    except Exception as e:  # forward computed, gradient refused: keep the forward
        return gradient_refused(out, e)
    out.update({f"d{n}": B.to_numpy(t.grad) for n, t in tensors.items()})
    return out


def _same(a):
    return a


def tf_outputs(dtype: str, inp: dict, tape, y, sources: dict, to_canonical: dict,
               y_from_tf=layout.channels_last_to_first,
               dy_to_tf=layout.channels_first_to_last) -> dict:
    """``y`` back to the canonical layout (``y_from_tf``; channels last by default) and, when its
    shape is right, the gradients w.r.t. ``sources`` (name -> watched tensor) for the upstream
    ``inp["dy"]`` (``dy_to_tf``), each converted by ``to_canonical[name]``."""
    from parity.backends import tf as B

    out = {"y": y_from_tf(B.to_numpy(y))}
    dy = dy_to_tf(inp["dy"])
    if tuple(y.shape) != dy.shape:
        return out
    try:
        grads = tape.gradient(y, list(sources.values()), output_gradients=B.constant(dy, dtype))
    except Exception as e:  # forward computed, gradient kernel refused: keep the forward
        return gradient_refused(out, e)
    for name, g in zip(sources, grads):
        out[f"d{name}"] = to_canonical.get(name, _same)(B.to_numpy(g))
    return out
