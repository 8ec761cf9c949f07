"""How a quantity of a training step is judged: Keras's float32 and float64 values against
torch's, each against a bound made of the two models' own float32-vs-float64 drift (the
forward pass's rule for propagated values), and what a fixed tolerance would have needed."""
from __future__ import annotations

import numpy as np

from parity.core.numerics import tiny, unit_roundoff
from parity.core.tolerance import compare_output
from parity.model.bounds import ROUNDING_C


def _plain(v):
    """A NumPy scalar as the Python value a JSON report holds."""
    return v.item() if isinstance(v, np.generic) else v


def judge(k32, k64, t32, t64, own64=None) -> dict:
    """The float32 and float64 comparisons of one quantity (Keras's values are the reference);
    ``own64``: Keras's float64 value of a second run whose starting weights differ by one
    rounding (``NUDGE``), where there is one."""
    k32, k64, t32, t64 = (np.asarray(a, np.float64) for a in (k32, k64, t32, t64))
    if not k32.shape == k64.shape == t32.shape == t64.shape:
        m = {"shape_match": False, "max_abs_diff": None, "bound_ratio": None, "mismatched": 0}
        return {"float32": m, "float64": dict(m)}
    drift = np.abs(k32 - k64) + np.abs(t32 - t64)
    floor = ROUNDING_C * unit_roundoff("float64") * np.abs(k64) + tiny("float64")
    # (floors: the value's own roundings, the dtype's smallest normal for an exact 0)
    # the float64 rounding noise of a quantity: its largest float32 drift, scaled (an element
    # whose float32 errors happened to cancel still has float64's own), or what Keras's own
    # float64 run moves by from a one-rounding nudge, where more
    b64 = ROUNDING_C * max(unit_roundoff("float64") / unit_roundoff("float32") *
                           float(np.max(drift, initial=0.0)),
                           0.0 if own64 is None else
                           float(np.max(np.abs(np.asarray(own64, np.float64) - k64),
                                        initial=0.0))) + floor
    out = {}
    floor32 = ROUNDING_C * unit_roundoff("float32") * np.abs(k64) + tiny("float32")
    for dt, k, t, bound in (("float32", k32, t32, drift + floor32 + b64),
                            ("float64", k64, t64, b64)):
        m = compare_output(k, t, k64, bound)
        out[dt] = {key: _plain(m.get(key)) for key in ("shape_match", "max_abs_diff",
                                                       "bound_ratio", "mismatched")}
    return out


NUDGE = """float64's bound scales from float32's drift while the step is linear in its rounding
errors. It is not where an optimizer divides by the gradient's running magnitude (Adam, AdamW,
RMSprop) and the gradient is rounding noise (a bias right before a BatchNormalization, whose
exact gradient is 0): the update is then noise of up to the learning rate, and epsilon makes the
map from noise to update nonlinear between float32's noise and float64's; what follows the
weight (the BatchNormalization's moving mean) inherits it. So Keras's float64 model is stepped
a second time from its weights nudged by one rounding each (seeded), and a quantity's float64
bound is at least ``ROUNDING_C`` times how far that run's value moves: how far Keras's own
float64 training moves when its numbers differ by a rounding."""


def diverges(row) -> bool:
    return any(m["mismatched"] or not m["shape_match"] for m in (row["float32"], row["float64"]))


def minimum_tolerance(rows) -> dict:
    """Per kind and dtype: the largest absolute difference measured (what a fixed ``atol``
    would have to allow for every quantity of that kind to pass)."""
    out = {}
    for r in rows:
        for dt in ("float32", "float64"):
            d = r[dt]["max_abs_diff"]
            if d is not None:
                cur = out.setdefault(r["kind"], {}).get(dt)
                out[r["kind"]][dt] = d if cur is None else max(cur, d)
    return out
