"""What the server that workers are forked from (``parity.exec.forking``) imports once: the
frameworks and the harness, nothing configured. A framework that is not installed is skipped
(a run against a recorded archive needs no TensorFlow, and its server skips it: the names in
``PARITY_PRELOAD_SKIP``, comma-separated, are not imported)."""
import importlib
import os
import signal

signal.signal(signal.SIGHUP, signal.SIG_IGN)  # a closed terminal is the run's to handle

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # as parity.backends.tf does
_SKIP = set(os.environ.get("PARITY_PRELOAD_SKIP", "").split(","))
for _name in ("torch", "torch.fx.experimental.symbolic_shapes",  # the first backward's import
              "tensorflow", "keras", "scipy.stats",
              "parity.spec.registry", "parity.exec.runner", "parity.exec.candidates", "parity.exec.worker"):
    if _name in _SKIP:
        continue
    try:
        importlib.import_module(_name)
    except ImportError:
        pass
