"""``nn.Module`` classes and factories as function candidates of the conv and pooling ops:
built like their torch counterparts, run with the case's weights through
``torch.func.functional_call`` (see ``parity.exec.candidates`` for the conventions)."""
from __future__ import annotations

import inspect

from parity.core.errors import CandidateError


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
