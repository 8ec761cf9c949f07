"""PyTorch implementations of TensorFlow semantics, verified by the harness.

``parity.ports`` is a torch library: importing it imports torch. Every module of the package
is imported and what its ``__all__`` names is exported here (discovered, not listed), except
``parity.ports.tf``, the TensorFlow side (import it by name).

Example:
    >>> import torch
    >>> from parity.ports import conv2d_same
    >>> x = torch.zeros(1, 3, 7, 7); w = torch.zeros(8, 3, 4, 4)
    >>> tuple(conv2d_same(x, w, stride=2).shape)   # TF: ceil(7 / 2) = 4
    (1, 8, 4, 4)
"""
import importlib
import pkgutil

_TF_MODULES = ("tf",)
"""Modules written with TensorFlow: not imported with the package."""

__all__: list[str] = []
for _info in pkgutil.iter_modules(__path__):
    if _info.name in _TF_MODULES:
        continue
    _module = importlib.import_module(f"{__name__}.{_info.name}")
    for _name in _module.__all__:
        if _name in globals():
            raise ImportError(f"parity.ports.{_info.name} exports {_name}, already exported")
        globals()[_name] = getattr(_module, _name)
    __all__ += _module.__all__
