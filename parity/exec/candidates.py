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
import inspect
import os
import sys

from parity.ops.sides import FORWARD_ONLY


class CandidateError(ValueError):
    """A candidate that cannot be used: one line, exit 2."""


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


def is_module_class(obj) -> bool:
    if not inspect.isclass(obj):
        return False
    from parity.backends import torch as B

    return issubclass(obj, B.torch().nn.Module)


def _build(factory, args: tuple, kwargs: dict, image_size):
    try:
        params = inspect.signature(factory).parameters
    except (TypeError, ValueError):
        params = {}
    if "image_size" in params:
        kwargs = dict(kwargs, image_size=image_size)
    module = factory(*args, **kwargs)
    from parity.backends import torch as B

    if not isinstance(module, B.torch().nn.Module):
        raise CandidateError(f"the candidate factory returned {type(module).__name__}, "
                             "not a torch.nn.Module")
    return module


def _call_module(module, x, weights: dict):
    """``module(x)`` with exactly the case's weights; refuses a module with parameters the
    case has no values for, or of another shape."""
    from torch.func import functional_call

    own = dict(module.named_parameters())
    extra = sorted(set(own) - set(weights))
    if extra:
        raise CandidateError(f"the module has parameters the case has no values for: "
                             f"{', '.join(extra)} (expected only {', '.join(weights)})")
    for name, value in weights.items():
        if name not in own:
            raise CandidateError(f"the module has no parameter {name!r} "
                                 f"(it has: {', '.join(own) or 'none'})")
        if tuple(own[name].shape) != tuple(value.shape):
            raise CandidateError(f"the module's {name} has shape {list(own[name].shape)}, "
                                 f"the case's {list(value.shape)}")
    return functional_call(module, weights, (x,))


def conv_module(factory):
    """A conv module class/factory as a function candidate."""
    def fn(x, w, b, stride, dilation, groups):
        module = _build(factory, (x.shape[1], w.shape[0], tuple(w.shape[2:])),
                        dict(stride=stride, dilation=dilation, groups=groups,
                             bias=b is not None), tuple(x.shape[2:]))
        return _call_module(module, x, {"weight": w, **({"bias": b} if b is not None else {})})
    return fn


def pool_module(factory):
    """A pooling module class/factory as a function candidate."""
    def fn(x, window, stride):
        return _call_module(_build(factory, (window,), dict(stride=stride),
                                   tuple(x.shape[2:])), x, {})
    return fn


def in_process_side(op, obj, *, module: bool = False, forward_only: bool = False):
    """``side_for`` run in this process, answering as an isolated worker does:
    ``side(cfg, inputs) -> (outputs or None, refusal or None, warnings)``."""
    from parity.exec.runner import _call

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
