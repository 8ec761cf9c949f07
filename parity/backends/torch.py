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
        apply_settings()
    return _torch


def device() -> str:
    from parity.backends.settings import requested
    return requested()["device"]


def apply_settings() -> None:
    """Device, TF32 and determinism from ``parity.backends.device`` (nothing before torch is loaded)."""
    if _torch is None:
        return
    from parity.backends.settings import requested

    s, t = requested(), _torch
    # Each call only where it changes something: a default device installs a mode that every
    # torch call then passes through, and use_deterministic_algorithms imports torch._dynamo
    # and torch._inductor (2.3 s in every process on this CPU) even to set False.
    if t.get_default_device().type != s["device"].split(":")[0] or s["device"] != "cpu":
        t.set_default_device(s["device"])
    if s["tf32"] != "default":
        t.backends.cuda.matmul.allow_tf32 = t.backends.cudnn.allow_tf32 = s["tf32"] == "on"
    if t.are_deterministic_algorithms_enabled() != s["deterministic"]:
        t.use_deterministic_algorithms(s["deterministic"])
    if s["deterministic"]:
        t.backends.cudnn.deterministic, t.backends.cudnn.benchmark = True, False


def tensor(a: np.ndarray, dtype: str, requires_grad: bool = False):
    """An exact tensor of ``dtype`` from float64 values already representable in it."""
    t = torch()
    # a copy: an in-place update on the framework side must never reach the case's inputs
    out = t.from_numpy(np.array(a, copy=True)).to(getattr(t, dtype)).to(device())
    return out.requires_grad_(requires_grad)


def to_numpy(t) -> np.ndarray:
    """Float64 copy of a tensor (exact for every float dtype); never a view of its memory."""
    return np.array(t.detach().to(torch().float64).cpu().numpy(), copy=True)


def settings() -> dict:
    t = torch()
    return {"intra_op_threads": t.get_num_threads(), "interop_threads": t.get_num_interop_threads()}


def numerics() -> dict:
    """Device names, CUDA/cuDNN versions and the numerics flags in force."""
    t = torch()
    cuda = t.cuda.is_available()
    return {"device": device(), "cuda": t.version.cuda,
            "cudnn": t.backends.cudnn.version() if cuda else None,
            "gpus": [t.cuda.get_device_name(i) for i in range(t.cuda.device_count())] if cuda
            else [],
            "allow_tf32_matmul": t.backends.cuda.matmul.allow_tf32,
            "allow_tf32_cudnn": t.backends.cudnn.allow_tf32,
            "deterministic_algorithms": t.are_deterministic_algorithms_enabled(),
            "cudnn_deterministic": t.backends.cudnn.deterministic,
            "cudnn_benchmark": t.backends.cudnn.benchmark}


def fans(weight) -> tuple[int, int]:
    """(fan_in, fan_out) as ``torch.nn.init``'s kaiming/xavier functions compute them."""
    return torch().nn.init._calculate_fan_in_and_fan_out(weight)


def generator(seed: int):
    """A ``torch.Generator`` on the case device, seeded with ``seed``."""
    return torch().Generator(device=device()).manual_seed(int(seed))
