"""PyTorch, imported lazily, intra-op threads sized once."""
from __future__ import annotations

import numpy as np

from parity.backends import BackendUnavailable, thread_count

_torch = None


def torch():
    """The ``torch`` module, configured on first call."""
    global _torch
    if _torch is None:
        try:
            import torch as t
        except ImportError as e:
            raise BackendUnavailable(f"torch is not importable: {e}") from None

        t.set_num_threads(thread_count())
        _torch = t
    return _torch


def tensor(a: np.ndarray, dtype: str, requires_grad: bool = False):
    """An exact tensor of ``dtype`` from float64 values already representable in it."""
    t = torch()
    # a copy: an in-place update on the framework side must never reach the case's inputs
    out = t.from_numpy(np.array(a, copy=True)).to(getattr(t, dtype))
    return out.requires_grad_(requires_grad)


def to_numpy(t) -> np.ndarray:
    """Float64 copy of a tensor (exact for every float dtype); never a view of its memory."""
    return np.array(t.detach().to(torch().float64).cpu().numpy(), copy=True)


def settings() -> dict:
    t = torch()
    return {"intra_op_threads": t.get_num_threads(), "interop_threads": t.get_num_interop_threads()}


def fans(weight) -> tuple[int, int]:
    """(fan_in, fan_out) as ``torch.nn.init``'s kaiming/xavier functions compute them."""
    return torch().nn.init._calculate_fan_in_and_fan_out(weight)


def generator(seed: int):
    """A CPU ``torch.Generator`` seeded with ``seed``."""
    return torch().Generator().manual_seed(int(seed))
