"""The device settings in force for this process and its workers (environment variables, read
by the backends when they load a framework): ``parity.backends.device.choose`` sets them."""
from __future__ import annotations

import contextlib
import os

DEVICES = {"cpu": "cpu", "cuda": "cuda", "gpu": "cuda"}
TF32 = ("default", "on", "off")
_ENV = {"device": "PARITY_DEVICE", "tf32": "PARITY_TF32", "deterministic": "PARITY_DETERMINISTIC"}


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
