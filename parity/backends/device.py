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

import os

from parity.backends.settings import (_ENV, DEVICES, DIGESTS, TF32,  # noqa: F401 (read here too)
                                      canonical_device, digests_requested, recording_digests,
                                      requested, tf32_bounds)

class DeviceUnavailable(RuntimeError):
    """The requested device is not there: a one-line error, exit 2."""


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
