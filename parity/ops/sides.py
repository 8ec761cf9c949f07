"""Running one side of a case: outputs and gradients in the canonical (torch) layout.

Shared by every op family. Frameworks come from ``parity.backends`` when a side runs.
"""
from __future__ import annotations

import contextvars
import warnings
from typing import Callable

import numpy as np

from parity.core import layout
from parity.spec.registry import gradient_refused

GRADIENT_OF = ("x", "w", "b")
LAYOUT_FREE = {"y_from_tf": lambda a: a, "dy_to_tf": lambda a: a}
FORWARD_ONLY = contextvars.ContextVar("parity_forward_only", default=False)
"""Set while a forward-only candidate runs: no autograd, ``y`` only (``audit --forward-only``)."""


class DtypeWarning(UserWarning):
    """A side returned another dtype than its input's (recorded with the case's warnings)."""


def _as_numpy(y, dtype: str) -> np.ndarray:
    """``y`` (a tensor, or an array from a forward-only candidate) as float64; warns when its
    dtype is not the input's."""
    from parity.backends import torch as B

    got = str(y.dtype).replace("torch.", "")
    if got != dtype:
        warnings.warn(f"output y is {got}, expected {dtype}", DtypeWarning)
    if isinstance(y, B.torch().Tensor):
        return B.to_numpy(y)
    return np.array(np.asarray(y), dtype=np.float64, copy=True)


def torch_run(dtype: str, inp: dict, fn: Callable, params=GRADIENT_OF,
              y_dtype: str | None = None) -> dict:
    """``y = fn(*tensors)`` for the ``params`` present in ``inp`` (None for absent ones, e.g. no
    bias); then, when ``y`` has the shape of ``inp["dy"]``, ``d<name>`` for each tensor (zeros
    for one ``y`` does not depend on, as TF reports them). Forward-only (``FORWARD_ONLY``):
    ``y`` alone, from tensors that need no gradient. ``y_dtype``: the dtype ``y`` and ``dy``
    have (default ``dtype``; mixed precision computes ``y`` in half from float32 tensors)."""
    from parity.backends import torch as B

    forward_only = FORWARD_ONLY.get()
    y_dtype = y_dtype or dtype
    tensors = {n: B.tensor(inp[n], dtype, not forward_only) for n in params if n in inp}
    y = fn(*(tensors.get(n) for n in params))
    out = {"y": _as_numpy(y, y_dtype)}
    if forward_only or tuple(y.shape) != inp["dy"].shape:
        return out
    if not getattr(y, "requires_grad", False):
        return gradient_refused(out, RuntimeError(
            "the output does not require grad: no autograd graph to differentiate"))
    try:
        y.backward(B.tensor(inp["dy"], y_dtype))
    except Exception as e:  # forward computed, gradient refused: keep the forward
        return gradient_refused(out, e)
    out.update({f"d{n}": B.to_numpy(t.grad) if t.grad is not None
                else np.zeros(t.shape) for n, t in tensors.items()})
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
    missing = [name for name, g in zip(sources, grads) if g is None]
    if missing:  # TF found no path to differentiate (e.g. an op it treats as constant)
        return gradient_refused(out, LookupError(
            f"TF returned no gradient (None) for {', '.join(missing)}"))
    for name, g in zip(sources, grads):
        out[f"d{name}"] = to_canonical.get(name, _same)(B.to_numpy(g))
    return out


def tf_conv_run(dtype: str, inp: dict, fn: Callable, kernel_to_tf: Callable,
                kernel_to_torch: Callable) -> dict:
    """``y = fn(tf, x, w)`` plus the bias (when ``inp`` has one) under a tape, with ``x``
    channels last and ``w`` converted by ``kernel_to_tf``; ``y`` and its gradients w.r.t. x, w,
    b in the canonical layout (the kernel's back by ``kernel_to_torch``)."""
    from parity.backends import tf as B

    tf = B.tf()
    sources = {"x": B.constant(layout.channels_first_to_last(inp["x"]), dtype),
               "w": B.constant(kernel_to_tf(inp["w"]), dtype)}
    if "b" in inp:
        sources["b"] = B.constant(inp["b"], dtype)
    with tf.GradientTape() as tape:
        tape.watch(list(sources.values()))
        y = fn(tf, sources["x"], sources["w"])
        if "b" in sources:
            y = tf.nn.bias_add(y, sources["b"])
    return tf_outputs(dtype, inp, tape, y, sources,
                      {"x": layout.channels_last_to_first, "w": kernel_to_torch})
