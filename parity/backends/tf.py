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
    return _tf


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
    t = tf()
    return t.cast(t.constant(a.astype(np.float32) if dtype == "bfloat16" else a.astype(dtype)),
                  dtype)


def to_numpy(t) -> np.ndarray:
    """Float64 copy of a tensor (exact for every float dtype); never a view of its memory."""
    return np.array(tf().cast(t, "float64").numpy(), copy=True)


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
