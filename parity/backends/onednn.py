"""Which of TensorFlow's CPU kernels run here: oneDNN on or off, and the ISA oneDNN dispatches.

TF's answers on a CPU depend on both (docs/divergences.md): with oneDNN on, an AVX-512 CPU
computes dilated Conv3D that the default kernels refuse; native bfloat16 kernels exist only from
AVX512_CORE_BF16 up. Both are read here, not guessed from the CPU's name:

* ``enabled()``: TensorFlow's own ``IsMklEnabled()`` when TF is loaded in this process; before
  that, TF's rule (``tensorflow/core/util/port.cc``: ``TF_ENABLE_ONEDNN_OPTS`` if it is set to
  0/1/true/false, else on for Linux x86-64 CPUs with AVX512_VNNI, AVX512_BF16, AVX_VNNI or AMX;
  so **off** on an AVX2-only CPU). A test holds the rule against TF's answer.
* ``dispatched_isa()``: the ISA line oneDNN prints with ``ONEDNN_VERBOSE=1`` (``isa:Intel AVX2``),
  read from a child Python that runs one small TF convolution under this process's environment
  (``ONEDNN_MAX_CPU_ISA`` caps it: one machine stands in for older CPUs). Cached per TF version,
  CPU flags and oneDNN variables, in memory and in ``~/.cache/parity`` (``PARITY_CACHE_DIR``),
  since the child takes a few seconds. ``""`` where oneDNN is off, TF is missing or the probe
  fails.

Example:
    >>> ISA_NAMES["Intel AVX-512 with Intel DL Boost"]
    'avx512_core_vnni'
    >>> isa_name("Intel AVX2")
    'avx2'
"""
from __future__ import annotations

import hashlib
import json
import os
import platform
import re
import subprocess
import sys
from pathlib import Path

ISA_NAMES = {
    "Intel 64": "any",
    "Intel SSE4.1": "sse41",
    "Intel AVX": "avx",
    "Intel AVX2": "avx2",
    "Intel AVX2 with Intel DL Boost": "avx2_vnni",
    "Intel AVX2 with Intel DL Boost and bfloat16 support": "avx2_vnni_2",
    "Intel AVX2 with Intel DL Boost with 8-bit integer, float16 and bfloat16 support": "avx2_vnni_2",
    "Intel AVX-512 with AVX512BW, AVX512VL, and AVX512DQ extensions": "avx512_core",
    "Intel AVX-512 with Intel DL Boost": "avx512_core_vnni",
    "Intel AVX-512 with Intel DL Boost and bfloat16 support": "avx512_core_bf16",
    "Intel AVX-512 with float16, Intel DL Boost and bfloat16 support": "avx512_core_fp16",
    "Intel AVX-512 with float16 and Intel DL Boost and bfloat16": "avx512_core_fp16",
}
"""oneDNN's ISA descriptions (``src/common/verbose.cpp``, the ``ONEDNN_MAX_CPU_ISA`` table) ->
the ``ONEDNN_MAX_CPU_ISA`` value, lower case: what registry predicates test (``isa``)."""
LEVELS = ("sse41", "avx", "avx2", "avx2_vnni", "avx2_vnni_2", "avx512_core", "avx512_core_vnni",
          "avx512_core_bf16", "avx512_core_fp16", "avx512_core_amx", "avx512_core_amx_fp16")
"""The ``ONEDNN_MAX_CPU_ISA`` levels, oldest first (``parity matrix``'s ``cpu-isa-*`` settings)."""
POLICY_FLAGS = ("avx512_vnni", "avx512_bf16", "avx_vnni", "amx_tile", "amx_int8", "amx_bf16")
"""``/proc/cpuinfo`` flags for which TF turns oneDNN on by default on Linux x86-64."""
VARIABLES = ("TF_ENABLE_ONEDNN_OPTS", "ONEDNN_MAX_CPU_ISA", "DNNL_MAX_CPU_ISA", "TF_DISABLE_MKL")
"""The environment variables that change what TF's CPU kernels are."""
PROBE_TIMEOUT_S = 120

_memo: dict[str, str] = {}


def isa_name(description: str) -> str:
    """``ONEDNN_MAX_CPU_ISA``'s name of a oneDNN ISA description (AMX ones by their words;
    an unknown text lower-cased and joined with underscores, so nothing is lost)."""
    text = description.strip()
    if text in ISA_NAMES:
        return ISA_NAMES[text]
    if "AMX" in text:
        amx = text.split("AMX", 1)[1]
        return "avx512_core_amx_fp16" if re.search(r"\bfloat16", amx) else "avx512_core_amx"
    return "_".join(text.lower().replace(",", " ").split())


def cpu_flags() -> set[str]:
    """Every flag of ``/proc/cpuinfo``'s first ``flags`` (or ``Features``) line; empty elsewhere."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("flags", "Features")):
                return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def _bool_variable(name: str) -> bool | None:
    raw = os.environ.get(name, "").strip().lower()
    return {"1": True, "true": True, "0": False, "false": False}.get(raw)


def policy(flags: set[str] | None = None) -> bool:
    """TF's rule for oneDNN on CPU (Linux x86-64 builds), without importing TF.

    >>> policy({"avx2"}) == (_bool_variable("TF_ENABLE_ONEDNN_OPTS") is True)
    True
    """
    chosen = _bool_variable("TF_ENABLE_ONEDNN_OPTS")
    if chosen is not None:
        return chosen and platform.machine().lower() in ("x86_64", "amd64", "aarch64")
    if platform.machine().lower() not in ("x86_64", "amd64") or sys.platform != "linux":
        return False
    flags = cpu_flags() if flags is None else flags
    return any(f in flags for f in POLICY_FLAGS)


def enabled() -> bool:
    """Whether TF's oneDNN kernels are on: TF's answer once TF is loaded, its rule before."""
    if "tensorflow" in sys.modules:
        try:
            from tensorflow.python.util import _pywrap_util_port

            return bool(_pywrap_util_port.IsMklEnabled())
        except Exception:  # an old or stripped TF: fall back on the rule
            pass
    return policy()


def dtypes(on: bool, flags: set[str] | None = None) -> list[str]:
    """The float dtypes TF hands to oneDNN here (``IsDataTypeSupportedByOneDNNOnThisCPU``,
    ``tensorflow/core/util/util.cc``: decided by the CPU's flags, not by ``ONEDNN_MAX_CPU_ISA``);
    the rest stay on TF's own (Eigen) kernels. Empty with oneDNN off.

    >>> dtypes(True, {"avx2"}), dtypes(True, {"avx512f", "avx512bw"}), dtypes(False, {"avx512f"})
    (['float32'], ['float32', 'bfloat16'], [])
    """
    if not on:
        return []
    flags = cpu_flags() if flags is None else flags
    out = ["float32"]
    if "avx512f" in flags or "avx_ne_convert" in flags:
        out.append("bfloat16")
    if ("avx512bw" in flags and ("avx512_fp16" in flags or "amx_fp16" in flags)) or \
            "avx_ne_convert" in flags:
        out.append("float16")
    return out


def _key() -> str:
    from importlib import metadata

    versions = []
    for name in ("tensorflow-cpu", "tensorflow"):
        try:
            versions.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            pass
    parts = [sys.executable, *versions, " ".join(sorted(cpu_flags())),
             *(f"{v}={os.environ.get(v, '')}" for v in VARIABLES)]
    return hashlib.blake2b("\n".join(parts).encode(), digest_size=12).hexdigest()


def _cache_file(key: str) -> Path:
    base = os.environ.get("PARITY_CACHE_DIR") or \
        Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "parity"
    return Path(base) / f"onednn-isa-{key}.json"


PROBE = ("import os, sys\n"
         "os.environ['ONEDNN_VERBOSE'] = '1'\n"
         "from parity.backends import tf as backend\n"
         "tf = backend.tf()\n"
         "from parity.backends import onednn\n"
         "sys.stderr.write('parity-onednn-enabled:%d\\n' % onednn.enabled())\n"
         "x = tf.ones([1, 4, 4, 2]); w = tf.ones([2, 2, 2, 3])\n"
         "tf.nn.conv2d(x, w, 1, 'SAME').numpy()\n")


def probe() -> dict:
    """Run the child: ``{"enabled": bool, "isa": name, "description": oneDNN's text}``; raises
    ``RuntimeError`` (one line) where the child fails."""
    env = {k: v for k, v in os.environ.items() if k not in ("ONEDNN_VERBOSE", "DNNL_VERBOSE")}
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    src = str(Path(__file__).resolve().parents[2])
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [src, env.get("PYTHONPATH", "")]))
    try:
        out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True,
                             env=env, timeout=PROBE_TIMEOUT_S)
    except (OSError, subprocess.SubprocessError) as e:
        raise RuntimeError(f"oneDNN probe: {type(e).__name__}: {e}") from None
    if out.returncode != 0:
        last = (out.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise RuntimeError(f"oneDNN probe exited {out.returncode}: {last}")
    description = ""
    for line in out.stdout.splitlines():
        if ",info,cpu,isa:" in line:
            description = line.split(",info,cpu,isa:", 1)[1].strip()
    on = "parity-onednn-enabled:1" in out.stderr
    return {"enabled": on, "isa": isa_name(description) if description and on else "",
            "description": description if on else ""}


def dispatched() -> dict:
    """``probe()``'s answer for this process's environment, cached; ``{"enabled": policy(),
    "isa": "", "description": "", "error": ...}`` where it cannot be had."""
    key = _key()
    if key in _memo:
        return json.loads(_memo[key])
    path = _cache_file(key)
    try:
        found = json.loads(path.read_text())
        if isinstance(found, dict) and {"enabled", "isa", "description"} <= found.keys():
            _memo[key] = json.dumps(found)
            return found
    except (OSError, ValueError):
        pass
    try:
        found = probe()
    except RuntimeError as e:
        found = {"enabled": policy(), "isa": "", "description": "", "error": str(e)[:300]}
        _memo[key] = json.dumps(found)   # not stored on disk: the next process tries again
        return found
    _memo[key] = json.dumps(found)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(found))
        os.replace(tmp, path)
    except OSError:
        pass
    return found


def dispatched_isa() -> str:
    """The ISA oneDNN dispatches TF's kernels to here (``""`` with oneDNN off)."""
    return dispatched()["isa"]
