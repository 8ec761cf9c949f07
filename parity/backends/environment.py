"""What a run ran on: versions (read from package metadata, no framework import), threads, commit."""
from __future__ import annotations

import functools
import os
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path

from parity.backends.onednn import VARIABLES as ONEDNN_VARIABLES

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


def _onednn_record() -> dict:
    from parity.backends import onednn

    return onednn.dispatched()


def collect(threads: dict | None = None, device: str | None = None) -> dict:
    """The report's ``environment`` block. ``threads`` comes from the backends that ran."""
    from parity.backends.device import requested

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
        "env": {k: os.environ[k] for k in ("PARITY_THREADS", "OMP_NUM_THREADS", *ONEDNN_VARIABLES)
                if k in os.environ},
        "onednn": _onednn_record(),
        "git_commit": git_commit(),
        "argv": sys.argv[1:],
        "facts": {k: sorted(v) if isinstance(v, frozenset) else v for k, v in facts().items()},
    }


CPU_FLAGS = ("avx2", "avx512f", "avx512bw", "avx_ne_convert", "avx512_vnni", "avx_vnni", "avx512_bf16", "avx512_fp16", "amx_tile",
             "amx_int8", "amx_bf16", "amx_fp16", "asimd", "sve")
"""The CPU features that pick framework kernels (oneDNN's ISA), as ``/proc/cpuinfo`` names them."""


def facts() -> dict:
    """What registry entries may be scoped by (their ``environment`` predicate):
    ``onednn`` (TensorFlow's oneDNN kernels on, as TF itself answers: by default only on CPUs with
    AVX512_VNNI, AVX512_BF16, AVX_VNNI or AMX, and never with ``TF_ENABLE_ONEDNN_OPTS=0``),
    ``isa`` (the ISA oneDNN dispatches to, e.g. ``'avx2'``, ``'avx512_core_vnni'``, capped by
    ``ONEDNN_MAX_CPU_ISA``; ``''`` with oneDNN off; ``parity.backends.onednn``), ``onednn_dtypes`` (the
    dtypes TF gives oneDNN: float32, bfloat16 on AVX-512 CPUs, float16 on AVX512_FP16 ones;
    TF keeps the others on its own kernels), ``cpu`` (the
    ``CPU_FLAGS`` this CPU has), ``device``, ``tf32`` (``--tf32``: default, on or off) and
    ``deterministic`` (``--deterministic``), ``platform`` (``sys.platform``) and ``machine``, the
    installed ``torch``, ``tensorflow`` and ``keras`` versions (``""`` where absent; test them
    with ``version_in(torch, '<2.12')``), and ``cuda``/``cudnn``, the versions torch was built
    with and runs (``""`` before torch is loaded, or without CUDA).

    >>> sorted(facts())  # doctest: +NORMALIZE_WHITESPACE
    ['cpu', 'cuda', 'cudnn', 'deterministic', 'device', 'isa', 'keras', 'machine', 'onednn',
     'onednn_dtypes', 'platform', 'tensorflow', 'tf32', 'torch']
    """
    from parity.backends import onednn
    from parity.backends.device import requested

    chosen = requested()
    tf_kernels = onednn.dispatched()
    return {"onednn": bool(tf_kernels["enabled"]), "isa": tf_kernels["isa"],
            "onednn_dtypes": onednn.dtypes(bool(tf_kernels["enabled"])),
            "cpu": _cpu_flags(), "device": chosen["device"], "tf32": chosen["tf32"],
            "deterministic": chosen["deterministic"], "platform": sys.platform,
            "machine": platform.machine().lower(),
            "torch": _version("torch") or "",
            "tensorflow": _version("tensorflow-cpu") or _version("tensorflow") or "",
            "keras": _version("keras") or "", **_cuda()}


def _cuda() -> dict:
    """torch's CUDA and cuDNN versions, read only from a torch already loaded (never imported
    here: the core runs without frameworks)."""
    torch = sys.modules.get("torch")
    cuda = getattr(getattr(torch, "version", None), "cuda", None) if torch else None
    cudnn = None
    if cuda:
        try:
            cudnn = torch.backends.cudnn.version() if torch.cuda.is_available() else None
        except Exception:  # a torch without a usable cuDNN
            cudnn = None
    return {"cuda": str(cuda or ""), "cudnn": str(cudnn or "")}


@functools.cache
def _cpu_flags() -> frozenset:
    """The ``CPU_FLAGS`` in ``/proc/cpuinfo`` (read once; empty where there is none)."""
    from parity.backends.onednn import cpu_flags

    return frozenset(f for f in CPU_FLAGS if f in cpu_flags())


def numerics() -> dict:
    """Requested device/TF32/determinism and what each loaded framework reports (imports none)."""
    from parity.backends import tf as tf_backend, torch as torch_backend
    from parity.backends.device import requested, tf32_bounds

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
