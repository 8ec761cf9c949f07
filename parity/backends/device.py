"""``--device``, ``--tf32`` and ``--deterministic``: chosen once, applied by the backends when
they load a framework, inherited by worker processes (environment variables), and recorded in
every report (``environment.numerics``).

``--tf32 default`` leaves each framework's own default (torch: TF32 for cuDNN convolutions, not
for matmul; TF: TF32 on Ampere and later). TF32 rounds float32 operands to a 10-bit mantissa, so
on CUDA with TF32 not off the float32 outputs an op computes with convolution or matmul kernels
(``OpPair.tf32_outputs``) are also judged against TF32's unit roundoff 2**-11
(``parity.core.tolerance.widen_to_tf32``). On CPU TF32 does not exist and changes nothing.

Example:
    >>> canonical_device("gpu"), canonical_device("cpu")
    ('cuda', 'cpu')
"""
from __future__ import annotations

import contextlib
import os

DEVICES = {"cpu": "cpu", "cuda": "cuda", "gpu": "cuda"}
TF32 = ("default", "on", "off")
_ENV = {"device": "PARITY_DEVICE", "tf32": "PARITY_TF32", "deterministic": "PARITY_DETERMINISTIC"}


class DeviceUnavailable(RuntimeError):
    """The requested device is not there: a one-line error, exit 2."""


def canonical_device(name: str) -> str:
    if name not in DEVICES:
        raise ValueError(f"unknown device {name!r}; known: {', '.join(DEVICES)}")
    return DEVICES[name]


def requested() -> dict:
    """The settings in force for this process (and its workers)."""
    return {"device": os.environ.get(_ENV["device"], "cpu"),
            "tf32": os.environ.get(_ENV["tf32"], "default"),
            "deterministic": os.environ.get(_ENV["deterministic"], "0") == "1"}


DIGESTS = "PARITY_DIGESTS"
"""Set to 1 (``run --digests``): every judged output records ``torch_digest``, a hash of the
torch side's bytes, so two runs can be compared bitwise (``parity matrix``); inherited by
workers."""


def digests_requested() -> bool:
    return os.environ.get(DIGESTS) == "1"


@contextlib.contextmanager
def recording_digests(on: bool = True):
    """While it lasts (and in workers started meanwhile), outputs record ``torch_digest``."""
    from unittest import mock

    with mock.patch.dict(os.environ, {DIGESTS: "1"} if on else {}):  # restored after
        yield


def tf32_bounds() -> bool:
    """Whether CUDA may compute in TF32 (TF32 not off): outputs an op computes with tensor cores
    (``OpPair.tf32_outputs``) are then also judged against TF32's unit roundoff."""
    s = requested()
    return s["device"] == "cuda" and s["tf32"] != "off"


def choose(device: str = "cpu", tf32: str = "default", deterministic: bool = False) -> None:
    """Set the settings for this process and its workers; ``DeviceUnavailable`` if CUDA is
    asked for and torch sees none."""
    device = canonical_device(device)
    if tf32 not in TF32:
        raise ValueError(f"unknown --tf32 {tf32!r}; known: {', '.join(TF32)}")
    if device == "cuda":
        from parity.backends import torch as B

        torch = B.torch()
        if not torch.cuda.is_available():
            raise DeviceUnavailable(f"--device cuda: torch {torch.__version__} sees no CUDA "
                                    "device (torch.cuda.is_available() is False)")
    os.environ[_ENV["device"]] = device
    os.environ[_ENV["tf32"]] = tf32
    os.environ[_ENV["deterministic"]] = "1" if deterministic else "0"
    from parity.backends import tf as tf_backend, torch as torch_backend

    for backend in (tf_backend, torch_backend):
        backend.apply_settings()  # no-op until the framework is loaded
