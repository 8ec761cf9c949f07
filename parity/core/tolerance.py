"""Per-output comparison of two results against a float64 reference and a bound.

The tolerance rule (see DESIGN): each element ``i`` of an output has a
rounding-error bound ``bound[i]`` computed in float64 by the op module from
the magnitudes that enter it (for a convolution ``|x| conv |w| + |b|``):

    bound[i] = C * u(dtype) * (1 + sqrt(n)) * magnitude[i]  (+ tiny(dtype))

``n`` is the number of products summed into element ``i``, ``u`` the unit
roundoff. ``sqrt(n)`` rather than the worst-case ``n`` is the probabilistic
rounding model (Higham & Mary, 2019) that fits random inputs; ``C`` covers both
implementations' errors and the final rounding of each output (see
``ROUNDING_C``). A correct pair stays far below ``bound_ratio = 1``; an
element that moved by one input pixel is orders of magnitude above it.

Calibration (``make parity``, 2,158 cases, TF 2.21 / torch 2.13 CPU): the worst
``bound_ratio`` of any agreeing case was 0.23 (float64), 0.23 (float32), 0.19
(float16), 0.18 (bfloat16). A port that puts the odd padding pixel at the start
instead of the end was caught in 231 of 231 asymmetric conv2d cases, with ``y``
ratios of at least 6.9e4 (float32), 1.1e14 (float64), 47 (float16) and 2.7
(bfloat16, whose 8-bit mantissa leaves the least room).

The two sides are compared in float64 after an exact upcast. An element is
*mismatched* when ``|tf - torch| > bound`` or when only one side is NaN, or
the two have different infinities. For a non-finite mismatch the side whose
pattern of NaN and infinities differs from the reference's in more elements is
the one ``farther`` from it.

Every output names its *judge*: ``tf`` (TensorFlow's result) or ``reference``
(the float64 reference, where TF refused the output or is known to be wrong:
``judged_by_reference``; the TF comparison is then kept as ``versus_tf``).

Example:
    >>> import numpy as np
    >>> m = compare_output(np.array([1.0, 2.0]), np.array([1.0, 2.5]),
    ...                    np.array([1.0, 2.0]), np.array([0.1, 0.1]))
    >>> m["mismatched"], m["max_abs_diff"], m["bound_ratio"], m["farther"]
    (1, 0.5, 5.0, 'torch')
"""
from __future__ import annotations

import math

import numpy as np

from parity.core.numerics import TF32_UNIT_ROUNDOFF, tiny, unit_roundoff

ROUNDING_C = 4.0
"""Two implementations (2x) times a margin of 2 over the sqrt(n) model."""


def rounding_bound(magnitude: np.ndarray, n, dtype: str, c: float = ROUNDING_C) -> np.ndarray:
    """Elementwise bound for two float sums of ``n`` terms with the given magnitudes.

    >>> float(rounding_bound(np.array([1.0]), 9, "float32")[0]) == 4 * 2**-24 * 4 + 2**-126
    True
    """
    n = np.asarray(n, dtype=np.float64)
    return c * unit_roundoff(dtype) * (1.0 + np.sqrt(n)) * np.abs(magnitude) + tiny(dtype)


def _value(v) -> float | str:
    """A JSON-safe float: non-finite numbers become strings."""
    v = float(v)
    return v if math.isfinite(v) else str(v)


def _shape(a) -> list[int] | None:
    return None if a is None else list(np.shape(a))


def _shape_only(tf_out, torch_out, ref) -> dict:
    """Metrics when a side's output is missing or has the wrong shape."""
    return {"shape_match": False, "tf_shape": _shape(tf_out),
            "torch_shape": _shape(torch_out), "reference_shape": _shape(ref),
            "nonfinite_match": None, "max_abs_diff": None, "max_rel_diff": None,
            "mismatched": int(np.size(ref)), "mismatched_fraction": 1.0, "worst_index": None,
            "tf_value": None, "torch_value": None, "reference_value": None, "bound": None,
            "bound_ratio": None, "tf_error": None, "torch_error": None,
            "farther": _farther_by_shape(tf_out, torch_out, ref)}


def _farther_by_shape(tf_out, torch_out, ref) -> str:
    tf_ok = _shape(tf_out) == _shape(ref)
    torch_ok = _shape(torch_out) == _shape(ref)
    return "neither" if tf_ok == torch_ok else ("torch" if tf_ok else "tf")


def _max_abs(a: np.ndarray, b: np.ndarray, mask: np.ndarray | None) -> float:
    """Largest ``|a - b|`` where ``mask`` (None: everywhere; 0 where nothing is)."""
    if mask is None:
        return float(np.abs(a - b).max()) if a.size else 0.0
    return float(np.abs(a[mask] - b[mask]).max()) if mask.any() else 0.0


def _kind(a: np.ndarray) -> np.ndarray:
    """0 finite, 1 NaN, 2 +inf, 3 -inf, elementwise."""
    return np.select([np.isnan(a), a == np.inf, a == -np.inf], [1, 2, 3], 0)


def _farther(tf_err: float, torch_err: float, tf_kinds: int, torch_kinds: int) -> str:
    """The side farther from the reference: by non-finite pattern first, then by error."""
    if tf_kinds != torch_kinds:
        return "tf" if tf_kinds > torch_kinds else "torch"
    return "neither" if tf_err == torch_err else ("tf" if tf_err > torch_err else "torch")


def compare_output(tf_out: np.ndarray, torch_out: np.ndarray, ref: np.ndarray,
                   bound: np.ndarray) -> dict:
    """All metrics of one named output; a side's ``None`` means it produced none."""
    if tf_out is None or torch_out is None or not np.shape(tf_out) == np.shape(torch_out) \
            == np.shape(ref):
        return _shape_only(tf_out, torch_out, ref)
    a, b = np.asarray(tf_out, np.float64), np.asarray(torch_out, np.float64)
    ref = np.asarray(ref, np.float64)
    finite = np.isfinite(a) & np.isfinite(b)
    # all finite (the usual case, and the costly one at real sizes): no masks needed
    everywhere = bool(finite.all()) and bool(np.isfinite(ref).all())
    nonfinite_bad = ~finite & ~((a == b) | (np.isnan(a) & np.isnan(b)))
    if everywhere:
        diff = np.abs(a - b)
    else:
        diff = np.zeros(a.shape)
        diff[finite] = np.abs(a[finite] - b[finite])
    scale = np.maximum(np.abs(a), np.abs(b))
    with np.errstate(over="ignore"):  # over a subnormal scale: the largest float, not inf
        rel = np.minimum(np.divide(diff, scale, out=np.zeros_like(diff), where=scale > 0),
                         np.finfo(np.float64).max)
    # a non-finite bound (magnitudes that overflow even float64) bounds nothing: infinite
    bound = np.where(np.isfinite(bound), bound, np.inf)
    with np.errstate(over="ignore"):  # a difference over a tiny bound: the largest float
        if everywhere:
            ratio = np.minimum(diff / bound, np.finfo(np.float64).max)
        else:
            ratio = np.zeros(a.shape)
            ratio[finite] = np.minimum(diff[finite] / bound[finite], np.finfo(np.float64).max)
    bad = (diff > bound) | nonfinite_bad
    worst = np.unravel_index(int(np.argmax(np.where(nonfinite_bad, np.inf, ratio))), a.shape) \
        if a.size else None
    ref_finite = None if everywhere else finite & np.isfinite(ref)
    tf_err, torch_err = _max_abs(a, ref, ref_finite), _max_abs(b, ref, ref_finite)
    if everywhere:
        tf_kinds = torch_kinds = 0
    else:
        ref_kind = _kind(ref)
        tf_kinds = int((_kind(a) != ref_kind).sum())
        torch_kinds = int((_kind(b) != ref_kind).sum())
    return {
        "shape_match": True, "tf_shape": list(a.shape), "torch_shape": list(b.shape),
        "reference_shape": list(np.shape(ref)),
        "nonfinite_match": not bool(nonfinite_bad.any()),
        "max_abs_diff": float(diff.max()) if a.size else 0.0,
        "max_rel_diff": float(rel.max()) if a.size else 0.0,
        "mismatched": int(bad.sum()),
        "mismatched_fraction": float(bad.mean()) if a.size else 0.0,
        "worst_index": [int(i) for i in worst] if worst is not None else None,
        "tf_value": _value(a[worst]) if worst is not None else None,
        "torch_value": _value(b[worst]) if worst is not None else None,
        "reference_value": _value(ref[worst]) if worst is not None else None,
        "bound": _value(bound[worst]) if worst is not None else None,
        "bound_ratio": float(ratio.max()) if a.size else 0.0,
        "tf_error": tf_err, "torch_error": torch_err,
        "farther": _farther(tf_err, torch_err, tf_kinds, torch_kinds),
        "nonfinite_mismatched": int(nonfinite_bad.sum()),
        "tf_nonfinite_vs_reference": tf_kinds, "torch_nonfinite_vs_reference": torch_kinds,
    }


def as_dtype_represents(ref: np.ndarray, dtype: str) -> np.ndarray:
    """The reference with values beyond the dtype's range as the infinities they round to
    (a float16 result of 1e6 is inf, correctly)."""
    from parity.core.numerics import round_to

    ref = np.asarray(ref, np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        rounded = round_to(ref, dtype)
    return np.where(np.isinf(rounded) & np.isfinite(ref), rounded, ref)


def judged_by_reference(torch_out, ref: np.ndarray, bound: np.ndarray, dtype: str | None,
                        tf_out=None) -> dict:
    """Metrics of the torch side against the float64 reference (TF refused the output or is
    known to be wrong on it); ``tf_out``, when TF produced one, is compared too and kept as
    ``versus_tf`` (the measured size of TF's divergence)."""
    judge = as_dtype_represents(ref, dtype) if dtype else np.asarray(ref, np.float64)
    m = compare_output(judge, torch_out, ref, bound)
    if m["shape_match"]:
        mismatched = m["mismatched"] > 0
        m["farther"] = "torch" if mismatched else "neither"
    m.update(tf_shape=None, tf_value=None, tf_error=None, judge="reference")
    m.pop("tf_nonfinite_vs_reference", None)
    if tf_out is not None:
        m["versus_tf"] = dict(compare_output(tf_out, torch_out, ref, bound), judge="tf")
    return m


def judged_by_tf(tf_out, torch_out, ref: np.ndarray, bound: np.ndarray) -> dict:
    """``compare_output`` with its judge named."""
    return dict(compare_output(tf_out, torch_out, ref, bound), judge="tf")


def problem_outputs(outputs: dict) -> tuple[set[str], set[str]]:
    """(outputs that failed against their judge, reference-judged outputs where TF disagreed
    with the torch side): what a registry entry must explain."""
    failed = {n for n, m in outputs.items() if output_failed(m)}
    disagreed = {n for n, m in outputs.items()
                 if n not in failed and m.get("versus_tf") and output_failed(m["versus_tf"])}
    return failed, disagreed


def torch_farther(outputs: dict) -> set[str]:
    """Failed outputs on which the torch side is the one farther from the float64 reference
    (judged by the reference and failed, or farther than TF): where the torch side is
    ``parity.ports``, no registry entry may explain them."""
    return {n for n, m in outputs.items() if output_failed(m)
            and (m.get("judge") == "reference" or m.get("farther") == "torch")}


def widen_to_tf32(metrics: dict, tensor_cores: bool) -> dict:
    """A float32 output judged where CUDA may compute in TF32: its ratio against the TF32 bound
    (``bound_ratio_tf32``), and, for an output computed by convolution or matmul kernels
    (``tensor_cores``) that breaks the float32 bound but keeps TF32's, ``within_tf32``: not a
    failure, but visible (the case's status is ``tf32``). Outputs no tensor core computes
    (norms, pooling, sums) keep the float32 bound.

    >>> m = {"bound_ratio": 100.0, "mismatched": 3, "shape_match": True, "nonfinite_match": True}
    >>> widen_to_tf32(dict(m), True)["within_tf32"], "within_tf32" in widen_to_tf32(dict(m), False)
    (True, False)
    """
    ratio = metrics.get("bound_ratio")
    if ratio is None:
        return metrics
    scale = TF32_UNIT_ROUNDOFF / unit_roundoff("float32")
    metrics["bound_ratio_tf32"] = ratio / scale
    if tensor_cores and metrics["mismatched"] > 0 and metrics["shape_match"] \
            and metrics["nonfinite_match"] and ratio <= scale:
        metrics["within_tf32"] = True
    return metrics


def output_failed(metrics: dict) -> bool:
    """True when an output breaks any rule: shape, non-finite mask, or the bound (for a
    distribution, ``parity.core.stats``: a test below its alpha, a support violation or the fans);
    an output within TF32's bound where TF32 may compute it (``widen_to_tf32``) has not."""
    if metrics.get("kind") == "distribution":
        return metrics["failed"]
    if metrics.get("within_tf32"):
        return False
    return (not metrics["shape_match"]) or (not metrics["nonfinite_match"]) \
        or metrics["mismatched"] > 0


def describe_failure(op: str, case_id: str, name: str, m: dict) -> str:
    """One message template for every failure (assert_close style).

    >>> describe_failure("conv2d_same", "abc", "y", {"shape_match": False, "tf_shape": [1],
    ...     "torch_shape": [2], "reference_shape": [1]})
    'conv2d_same case abc output y: shape mismatch: tf [1], torch [2], reference [1]'
    """
    head = f"{op} case {case_id} output {name}"
    if m.get("kind") == "distribution":
        from parity.core.stats import describe_mismatch
        return describe_mismatch(head, m)
    by_ref = m.get("judge") == "reference"
    if by_ref:
        head += " (judged by the float64 reference)"
    if not m["shape_match"]:
        sides = f"torch {m['torch_shape']}" if by_ref else \
            f"tf {m['tf_shape']}, torch {m['torch_shape']}"
        return f"{head}: shape mismatch: {sides}, reference {m['reference_shape']}"
    shape = m["torch_shape"] if by_ref else m["tf_shape"]
    total = int(np.prod(shape)) if shape else 1
    values = (f"torch {m['torch_value']}, reference {m['reference_value']}" if by_ref else
              f"tf {m['tf_value']}, torch {m['torch_value']}, reference {m['reference_value']}")
    where = f"at index {tuple(m['worst_index'] or ())}: {values}"
    count = f"mismatched elements: {m['mismatched']} / {total} ({100 * m['mismatched_fraction']:.1f}%)"
    if m.get("nonfinite_match") is False:
        agrees = {"tf": "torch agrees with the reference", "torch": "tf agrees with the reference",
                  "neither": "neither side agrees with the reference"}[m["farther"]]
        if by_ref:
            agrees = "the reference is " + str(m["reference_value"])
        return (f"{head}: {count}; non-finite mismatch in {m.get('nonfinite_mismatched', '?')} "
                f"(NaN/inf on one side only) {where} ({agrees})")
    return (f"{head}: {count}; greatest absolute difference "
            f"{_g(m['max_abs_diff'])} (bound ratio {_g(m['bound_ratio'])}) {where}, "
            f"bound {_g(m['bound'])}")


def _g(v) -> str:
    """A number as ``%.3g``; the report's strings for non-finite values and None as they are."""
    return f"{v:.3g}" if isinstance(v, (int, float)) else str(v)
