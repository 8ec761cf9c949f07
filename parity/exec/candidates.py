"""Audit candidates: loaded by name, adapted to an op's calling convention.

A candidate is a function (the op's convention, ``parity list --verbose``), or for the conv,
depthwise and pooling ops an ``nn.Module`` class or factory, built like its torch counterpart
and run with the case's weights through ``torch.func.functional_call``:

* conv: ``M(in_channels, out_channels, kernel_size, stride=, dilation=, groups=, bias=)``
  (``nn.Conv{1,2,3}d``'s signature; depthwise: ``groups = in_channels``);
* pooling: ``M(kernel_size, stride=)`` (``nn.MaxPool{1,2,3}d``'s);
* either also gets ``image_size=`` (the input's spatial size) when its signature names it, as
  efficientnet-pytorch's ``Conv2dStaticSamePadding`` does.

A class is recognised as one; a factory (any callable returning a module) needs
``module=True`` (``audit --module``). ``forward_only`` judges ``y`` only, for candidates
without autograd (NumPy, ONNX): they get tensors that need no gradient and may return a
NumPy array.

Example:
    >>> fn = load("parity.ports:conv2d_same")
    >>> fn.__name__
    'conv2d_same'
"""
from __future__ import annotations

import importlib
import os
import sys

from parity.core.errors import CandidateError
from parity.ops.modules import conv_module, is_module_class, pool_module  # noqa: F401
from parity.ops.sides import FORWARD_ONLY


def load(spec: str):
    """``pkg.module:attr`` -> the object, or ``CandidateError`` saying why not."""
    module_name, sep, attr = spec.partition(":")
    if not sep or not module_name or not attr:
        raise CandidateError(f"candidate must look like package.module:function, got {spec!r}")
    if "" not in sys.path and os.getcwd() not in sys.path:
        # the console script puts its own directory first, not the user's: importable as
        # under ``python -m parity``, a module of the current directory is found
        sys.path.insert(0, os.getcwd())
    try:
        mod = importlib.import_module(module_name)
    except SystemExit as e:
        raise CandidateError(f"candidate module {module_name!r} called sys.exit({e.code!r}) "
                             "on import") from None
    except Exception as e:  # any import-time failure of user code
        raise CandidateError(f"cannot import candidate module {module_name!r}: "
                             f"{type(e).__name__}: {e}") from None
    obj = mod
    for part in attr.split("."):
        obj = getattr(obj, part, None)
    if not callable(obj):
        raise CandidateError(f"{module_name!r} has no callable {attr!r}")
    return obj


def in_process_side(op, obj, *, module: bool = False, forward_only: bool = False):
    """``side_for`` run in this process, answering as an isolated worker does:
    ``side(cfg, inputs) -> (outputs or None, refusal or None, warnings)``."""
    from parity.exec.calls import call_side as _call

    fn = side_for(op, obj, module=module, forward_only=forward_only)
    return lambda cfg, inputs: _call(fn, cfg, inputs)


def side_for(op, obj, *, module: bool = False, forward_only: bool = False):
    """The torch side of ``obj`` for ``op``: its candidate side, a module adapted to the
    function convention, and forward-only when asked."""
    if module or (op.family in ("conv", "pool") and is_module_class(obj)):
        adapt = {"conv": conv_module, "pool": pool_module}.get(op.family)
        if adapt is None:
            raise CandidateError(f"{op.name} takes function candidates only (module "
                                 "candidates: conv, depthwise and pooling ops)")
        obj = adapt(obj)
    inner = op.candidate_side(obj)
    if not forward_only:
        return inner

    def side(cfg, inputs):
        token = FORWARD_ONLY.set(True)
        try:
            return inner(cfg, inputs)
        finally:
            FORWARD_ONLY.reset(token)
    side.__name__ = getattr(inner, "__name__", "side")
    return side
