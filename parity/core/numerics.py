"""Dtypes, unit roundoffs and seeded inputs, framework-free.

Inputs are drawn in float64 from a seeded ``numpy.random.Generator`` and
rounded to the case dtype; the rounded values are kept as float64 so that
both frameworks receive bit-identical tensors and the float64 reference
sees exactly the numbers they saw.

Example:
    >>> x = draw(case_rng(7), (2, 3), "bfloat16")
    >>> bool((round_to(x, "bfloat16") == x).all())
    True
"""
from __future__ import annotations

import hashlib

import ml_dtypes
import numpy as np

DTYPES = ("float16", "bfloat16", "float32", "float64")

_NUMPY = {"float16": np.float16, "bfloat16": ml_dtypes.bfloat16,
          "float32": np.float32, "float64": np.float64}


def check_dtype(dtype: str) -> str:
    if dtype not in _NUMPY:
        raise ValueError(f"unknown dtype {dtype!r}; known: {', '.join(DTYPES)}")
    return dtype


def numpy_type(dtype: str):
    """The NumPy scalar type of ``dtype`` (``ml_dtypes.bfloat16`` for bfloat16)."""
    return _NUMPY[check_dtype(dtype)]


def unit_roundoff(dtype: str) -> float:
    """u = eps / 2: float16 2**-11, bfloat16 2**-8, float32 2**-24, float64 2**-53 (TF32 widens
    only the outputs an op computes with tensor cores: ``TF32_UNIT_ROUNDOFF``)."""
    return float(ml_dtypes.finfo(_NUMPY[check_dtype(dtype)]).eps) / 2


TF32_UNIT_ROUNDOFF = 2.0 ** -11
"""TF32's unit roundoff (10 explicit mantissa bits): float32 inputs of CUDA convolutions and
matmuls are rounded to it where TF32 is allowed (``parity.backends.device.tf32_bounds``)."""


def tiny(dtype: str) -> float:
    """Smallest positive normal number of ``dtype``."""
    return float(ml_dtypes.finfo(_NUMPY[check_dtype(dtype)]).tiny)


def lowest(dtype: str) -> float:
    """The most negative finite number of ``dtype`` (TF's max pool never goes below it)."""
    return float(ml_dtypes.finfo(_NUMPY[check_dtype(dtype)]).min)


def round_to(a: np.ndarray, dtype: str) -> np.ndarray:
    """Round float64 values to ``dtype`` and return them as float64 again."""
    return np.asarray(a, np.float64).astype(_NUMPY[check_dtype(dtype)]).astype(np.float64)


def case_rng(seed: int) -> np.random.Generator:
    """The generator of one case: PCG64 seeded with the case seed."""
    return np.random.default_rng(seed)


def draw(rng: np.random.Generator, shape, dtype: str, low: float = -1.0,
         high: float = 1.0) -> np.ndarray:
    """Uniform values in ``[low, high)``, rounded to ``dtype``, as float64."""
    return round_to(rng.uniform(low, high, size=tuple(shape)), dtype)


def array_digest(a) -> str:
    """16 hex digits of BLAKE2b over an array's dtype, shape and bytes: two outputs with the
    same digest are bitwise identical (the run-to-run comparison of ``parity matrix``).

    >>> import numpy as np
    >>> array_digest(np.zeros(3)) == array_digest(np.zeros(3)) != array_digest(-np.zeros(3))
    True
    """
    import hashlib

    import numpy as np

    a = np.ascontiguousarray(a)
    h = hashlib.blake2b(f"{a.dtype.str}{a.shape}".encode(), digest_size=8)
    h.update(a.view(np.uint8).reshape(-1) if a.size else b"")
    return h.hexdigest()


def stable_hash(text: str, length: int = 16) -> str:
    """Hex prefix of SHA-256: the case and config ids.

    >>> stable_hash("abc", 8)
    'ba7816bf'
    """
    return hashlib.sha256(text.encode()).hexdigest()[:length]
