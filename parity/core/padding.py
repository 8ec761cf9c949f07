"""TensorFlow's SAME padding arithmetic, framework-free.

TensorFlow (``tensorflow/core/framework/kernel_shape_util.cc``,
``GetWindowedOutputSizeVerbose``) computes, per spatial dimension::

    out        = ceil(in / stride)
    effective  = (kernel - 1) * dilation + 1
    total      = max((out - 1) * stride + effective - in, 0)
    before     = total // 2
    after      = total - before        # the odd extra pixel goes at the END

PyTorch's ``padding=k//2`` or ``padding="same"`` (stride 1 only) agree with
this only on some shapes; this module is the single source of the rule.

Example:
    >>> same_padding(7, kernel=4, stride=2, dilation=1)
    SamePadding(out=4, before=1, after=2)
"""
from __future__ import annotations

from typing import NamedTuple, Sequence


class SamePadding(NamedTuple):
    out: int
    before: int
    after: int


def same_padding(size: int, kernel: int, stride: int = 1, dilation: int = 1) -> SamePadding:
    """Output size and (before, after) padding of one dimension under TF SAME."""
    if size < 1 or kernel < 1 or stride < 1 or dilation < 1:
        raise ValueError(f"same_padding needs positive sizes, got size={size} kernel={kernel} "
                         f"stride={stride} dilation={dilation}")
    out = -(-size // stride)
    effective = (kernel - 1) * dilation + 1
    total = max((out - 1) * stride + effective - size, 0)
    return SamePadding(out, total // 2, total - total // 2)


def same_paddings(sizes: Sequence[int], kernel: Sequence[int], stride: Sequence[int],
                  dilation: Sequence[int]) -> list[SamePadding]:
    """`same_padding` for every spatial dimension.

    >>> [p.before for p in same_paddings((5, 6), (3, 3), (2, 2), (1, 1))]
    [1, 0]
    """
    return [same_padding(n, k, s, d) for n, k, s, d in zip(sizes, kernel, stride, dilation)]


def as_tuple(value: int | Sequence[int], rank: int, name: str = "value") -> tuple[int, ...]:
    """Broadcast an int to a rank-long tuple; check a sequence's length.

    >>> as_tuple(2, 3)
    (2, 2, 2)
    """
    if isinstance(value, int):
        return (value,) * rank
    out = tuple(int(v) for v in value)
    if len(out) != rank:
        raise ValueError(f"{name} needs {rank} values, got {len(out)}: {out}")
    return out


def keras_output_length(n: int, k: int, s: int, d: int, padding: str,
                        output_padding: int | None) -> int:
    """Keras ``deconv_output_length`` (keras/src/ops/operation_utils.py).

    >>> keras_output_length(4, 3, 2, 1, "same", None), keras_output_length(4, 3, 2, 1, "valid", None)
    (8, 9)
    """
    eff = (k - 1) * d + 1
    if output_padding is None:
        return n * s if padding == "same" else n * s + max(eff - s, 0)
    pad = eff // 2 if padding == "same" else 0
    return (n - 1) * s + eff - 2 * pad + output_padding


def tf_window_start(out: int, k: int, s: int, d: int, padding: str) -> int:
    """Where TF's result starts in the full transposed signal: the forward conv's pad-before."""
    return same_padding(out, k, s, d).before if padding == "same" else 0
