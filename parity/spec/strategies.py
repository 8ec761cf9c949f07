"""Hypothesis building blocks shared by the op families' strategies."""
from __future__ import annotations

from hypothesis import strategies as st


def strides_and_sizes(draw, rank: int, max_out: int, max_stride: int = 4):
    """Strides (equal in every dimension half the time) and SAME input sizes drawn output first.

    The input size is ``(out - 1) * s + 1 + r`` with ``r`` in ``[0, s)``, so every remainder
    modulo the stride occurs and ``ceil(n / s) == out``.
    """
    if draw(st.booleans()):
        stride = (draw(st.integers(1, max_stride)),) * rank
    else:
        stride = tuple(draw(st.integers(1, max_stride)) for _ in range(rank))
    return stride, tuple(size_for_stride(draw, s, max_out) for s in stride)


def size_for_stride(draw, stride: int, max_out: int) -> int:
    """An input size whose SAME (or causal) output at ``stride`` is 1..``max_out``, drawn output
    first: ``(out - 1) * stride + 1 + r`` with ``r`` in ``[0, stride)``, so every remainder
    modulo the stride occurs and ``ceil(n / stride) == out``."""
    return (draw(st.integers(1, max_out)) - 1) * stride + 1 + draw(st.integers(0, stride - 1))


def ordered_dtypes(dtypes) -> tuple[str, ...]:
    """The dtypes with float32 first: Hypothesis shrinks towards the first, so a minimal
    failing case is float32 when it can be."""
    order = ("float32", "float64", "float16", "bfloat16")
    return tuple(sorted(dtypes, key=order.index))
