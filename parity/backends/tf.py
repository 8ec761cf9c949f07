"""TensorFlow, imported lazily, eager mode, thread pools sized once."""
from __future__ import annotations

import os

import numpy as np

from parity.backends import BackendUnavailable, thread_count

_tf = None
_keras = None


def tf():
    """The ``tensorflow`` module, configured on first call."""
    global _tf
    if _tf is None:
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        _torchvision_first()
        try:
            import tensorflow
        except ImportError as e:
            raise BackendUnavailable(f"tensorflow is not importable: {e}") from None

        n = thread_count()
        try:
            tensorflow.config.threading.set_intra_op_parallelism_threads(n)
            tensorflow.config.threading.set_inter_op_parallelism_threads(n)
        except RuntimeError:  # already initialised by the host program
            pass
        tensorflow.get_logger().setLevel("ERROR")
        _tf = tensorflow
        apply_settings()
    return _tf


def _torchvision_first() -> None:
    """torchvision 0.29 (what onnx2torch and nobuco import) crashes the process (SIGSEGV) when
    it is imported after tensorflow-cpu 2.21; imported before, both work. Where it is installed
    and neither is loaded yet, it is imported first (an import that fails is left to its user)."""
    import importlib.util
    import sys

    if "tensorflow" in sys.modules or "torchvision" in sys.modules or \
            importlib.util.find_spec("torchvision") is None:
        return
    try:
        import torchvision  # noqa: F401
    except Exception:  # noqa: BLE001 - e.g. a CUDA build beside a CPU torch
        pass


def apply_settings() -> None:
    """TF32 and op determinism from ``parity.backends.device`` (nothing before TF is loaded)."""
    if _tf is None:
        return
    from parity.backends.settings import requested

    s = requested()
    if s["tf32"] != "default":
        _tf.config.experimental.enable_tensor_float_32_execution(s["tf32"] == "on")
    if s["deterministic"]:
        _tf.config.experimental.enable_op_determinism()


def numerics() -> dict:
    t = tf()
    return {"gpus": [d.name for d in t.config.list_physical_devices("GPU")],
            "tf32": bool(t.config.experimental.tensor_float_32_execution_enabled()),
            "cuda": t.sysconfig.get_build_info().get("cuda_version"),
            "cudnn": t.sysconfig.get_build_info().get("cudnn_version")}


def keras():
    """The ``keras`` module (Keras 3 on the TensorFlow backend)."""
    global _keras
    if _keras is None:
        os.environ.setdefault("KERAS_BACKEND", "tensorflow")
        tf()
        try:
            import keras as k
        except ImportError as e:
            raise BackendUnavailable(f"keras is not importable: {e}") from None

        _keras = k
    return _keras


def constant(a: np.ndarray, dtype: str):
    """An exact tensor of ``dtype`` from float64 values already representable in it."""
    t = tf()  # one op: numpy's (ml_dtypes') array of the dtype, no cast after the constant
    return t.constant(np.asarray(a).astype(t.as_dtype(dtype).as_numpy_dtype))


def to_numpy(t) -> np.ndarray:
    """Float64 copy of a tensor (exact for every float dtype); never a view of its memory."""
    host = t.numpy() if hasattr(t, "numpy") else t  # a tensor or variable; anything else as is
    return np.array(host, dtype=np.float64)  # a copy, and no TF op for the cast


def settings() -> dict:
    t = tf()
    return {"intra_op_threads": t.config.threading.get_intra_op_parallelism_threads(),
            "inter_op_threads": t.config.threading.get_inter_op_parallelism_threads()}


def keras_fans(shape) -> tuple[int, int]:
    """(fan_in, fan_out) as Keras's initializers compute them (``compute_fans``; Keras keeps it
    in ``keras.src``, outside its public API)."""
    keras()
    from keras.src.initializers.random_initializers import compute_fans

    return compute_fans(tuple(int(s) for s in shape))
