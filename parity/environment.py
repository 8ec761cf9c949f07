"""What a run ran on: versions (read from package metadata, no framework import), threads, commit."""
from __future__ import annotations

import os
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path

PACKAGES = ("numpy", "scipy", "hypothesis", "torch", "tensorflow-cpu", "tensorflow", "keras",
            "ml_dtypes", "jsonschema")


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                             timeout=5, cwd=Path(__file__).resolve().parent)
        return out.stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def collect(threads: dict | None = None, device: str | None = None) -> dict:
    """The report's ``environment`` block. ``threads`` comes from the backends that ran."""
    from parity.device import requested

    device = device or requested()["device"]
    return {
        "python": platform.python_version(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_count": os.cpu_count(),
        "packages": {name: v for name in PACKAGES if (v := _version(name))},
        "device": device,
        "numerics": numerics(),
        "threads": threads or {},
        "env": {k: os.environ[k] for k in ("PARITY_THREADS", "OMP_NUM_THREADS",
                                           "TF_ENABLE_ONEDNN_OPTS") if k in os.environ},
        "git_commit": git_commit(),
        "argv": sys.argv[1:],
    }


def numerics() -> dict:
    """Requested device/TF32/determinism and what each loaded framework reports (imports none)."""
    from parity.backends import tf as tf_backend, torch as torch_backend
    from parity.device import requested, tf32_bounds

    out = {"requested": requested(), "tf32_bounds": tf32_bounds()}
    for name, backend, ready in (("tensorflow", tf_backend, tf_backend._tf),
                                 ("torch", torch_backend, torch_backend._torch)):
        if ready is not None:
            try:
                out[name] = backend.numerics()
            except Exception as e:  # an old framework without one of the calls
                out[name] = {"error": str(e)[:200]}
    return out


def framework_threads() -> dict:
    """Thread settings of the frameworks the backends have set up (imports none)."""
    from parity.backends import tf as tf_backend, torch as torch_backend

    out = {}
    for name, backend, ready in (("tensorflow", tf_backend, tf_backend._tf),
                                 ("torch", torch_backend, torch_backend._torch)):
        if ready is not None:
            out[name] = backend.settings()
    return out
