"""Samples compared as distributions: moments, support, tail mass and KS tests.

Initializers draw from different random streams, so their outputs are compared as
distributions, never element by element. Each output of a case is a pooled sample per side
(``tf``, ``torch``) and a ``Claim``: the closed-form distribution the op documents (the
reference). ``compare_samples`` runs, on each side against the claim, a one-sample KS test,
a z-test of the mean, a z-test of the variance (standard error from the claim's kurtosis),
exact binomial tests of the mass beyond 2 and 3 standard deviations, and a support check;
between the sides, a two-sample KS test. Every statistic and p-value is recorded.

False alarms. A correct pair fails a case only by chance: each of the ``TESTS`` tests of an
output runs at ``alpha_test = CASE_ALPHA / (TESTS * outputs)`` (Bonferroni), so a case fails
with probability at most ``CASE_ALPHA`` = 1e-6, and a run of ``C`` correct cases with at most
``C * 1e-6`` (the default run's init cases: about 1e-3, under once in a thousand runs). The
binomial tests are exact, the KS p-values are exact or conservative (Kolmogorov's distribution
is conservative for the discrete distributions of rounded samples); the moment z-tests rest on
the central limit theorem and run only from ``MIN_MOMENT_SAMPLES`` samples on. ``make bench``
measures the observed rate on correct samplers.

Rounding. Samples are values of the case dtype; the claim is evaluated for the rounded
distribution (``P(x~ <= v) = F(midpoint of v and the next value up)``), so bfloat16's 256
values per binade do not look like a mismatch. Rounding changes the variance by less than
``1e-5`` relative (below any standard error here) and is ignored in the moment tests.

Example:
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> m = compare_samples(rng.normal(0, 2, 20000), rng.normal(0, 2, 20000),
    ...                     Claim.normal(0.0, 2.0), "float64", outputs=1)
    >>> m["failed"], m["p_values"]["ks_2samp"] > 1e-3
    (False, True)
    >>> m = compare_samples(rng.normal(0, 2, 20000), rng.normal(0, 2.5, 20000),
    ...                     Claim.normal(0.0, 2.0), "float64", outputs=1)
    >>> m["failed"], m["farther"]
    (True, 'torch')
"""
from __future__ import annotations

import functools
import math
from dataclasses import asdict, dataclass

import numpy as np

from parity.core.numerics import numpy_type, unit_roundoff

CASE_ALPHA = 1e-6
SIDE_TESTS = ("ks", "mean", "var", "tail2", "tail3")
TESTS = 1 + 2 * len(SIDE_TESTS)   # the two-sample KS test and five per side
MIN_MOMENT_SAMPLES = 2048
SUPPORT_SLACK_ULPS = 2            # loc + scale * z rounds twice in the dtype
KINDS = ("normal", "truncated_normal", "uniform", "constant")


@dataclass(frozen=True)
class Claim:
    """A closed-form distribution: ``kind`` with location, parent std and support."""
    kind: str
    loc: float = 0.0
    scale: float = 0.0          # normal, truncated_normal: std of the (parent) normal
    low: float = -math.inf      # truncated_normal, uniform, constant: the support
    high: float = math.inf

    @staticmethod
    def normal(loc: float, std: float) -> "Claim":
        return Claim("normal", loc, std)

    @staticmethod
    def truncated_normal(loc: float, std: float, low: float, high: float) -> "Claim":
        return Claim("truncated_normal", loc, std, low, high)

    @staticmethod
    def uniform(low: float, high: float) -> "Claim":
        return Claim("uniform", (low + high) / 2, 0.0, low, high)

    @staticmethod
    def constant(value: float) -> "Claim":
        return Claim("constant", value, 0.0, value, value)

    def dist(self):
        """The frozen ``scipy.stats`` distribution (``None`` for a constant)."""
        from scipy import stats

        if self.kind == "normal":
            return stats.norm(self.loc, self.scale)
        if self.kind == "truncated_normal":
            return stats.truncnorm((self.low - self.loc) / self.scale,
                                   (self.high - self.loc) / self.scale, self.loc, self.scale)
        if self.kind == "uniform":
            return stats.uniform(self.low, self.high - self.low)
        return None

    def cdf(self, x: np.ndarray) -> np.ndarray:
        """The CDF, vectorized with ``scipy.special.ndtr`` (``scipy.stats.truncnorm`` is ~50x
        slower and agrees to 1e-15 here)."""
        from scipy.special import ndtr

        x = np.asarray(x, np.float64)
        if self.kind == "constant":
            return (x >= self.loc).astype(float)
        if self.kind == "uniform":
            return np.clip((x - self.low) / (self.high - self.low), 0.0, 1.0)
        f = ndtr((x - self.loc) / self.scale)
        if self.kind == "normal":
            return f
        lo, hi = ndtr((self.low - self.loc) / self.scale), ndtr((self.high - self.loc) / self.scale)
        return np.clip((f - lo) / (hi - lo), 0.0, 1.0)

    def moments(self) -> tuple[float, float, float]:
        """(mean, variance, excess kurtosis)."""
        return _moments(self)

    def to_dict(self) -> dict:
        return {k: (v if math.isfinite(v) else str(v)) if isinstance(v, float) else v
                for k, v in asdict(self).items()}


@functools.lru_cache(maxsize=256)
def _moments(claim: Claim) -> tuple[float, float, float]:
    d = claim.dist()
    if d is None:
        return claim.loc, 0.0, 0.0
    mean, var, kurt = (float(v) for v in d.stats(moments="mvk"))
    return mean, var, kurt


def _next(v: np.ndarray, dtype: str, direction: float) -> np.ndarray:
    t = numpy_type(dtype)
    return np.nextafter(v.astype(t), np.array(direction, dtype=t)).astype(np.float64)


def _rounded_cdf(claim: Claim, dtype: str):
    """(F(v-), F(v)) at representable values ``v`` for samples rounded to nearest."""
    def cdf(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if claim.kind == "constant":
            return (v > claim.loc).astype(float), (v >= claim.loc).astype(float)
        up = np.where(np.isfinite(v), (v + _next(v, dtype, math.inf)) / 2, v)
        down = np.where(np.isfinite(v), (v + _next(v, dtype, -math.inf)) / 2, v)
        return claim.cdf(down), claim.cdf(up)
    return cdf


def ks_one_sample(x: np.ndarray, claim: Claim, dtype: str) -> tuple[float, float]:
    """(D, p): KS distance of the sample from the claim's rounded distribution.

    D is the exact supremum for a step-function reference; the p-value is Kolmogorov's
    exact distribution for ``len(x)``, conservative for a discrete reference.
    """
    from scipy import stats

    values, counts = np.unique(x, return_counts=True)
    after = np.cumsum(counts) / x.size
    before = after - counts / x.size
    f_before, f_after = _rounded_cdf(claim, dtype)(values)
    d = float(max(np.abs(after - f_after).max(), np.abs(before - f_before).max()))
    if claim.kind == "constant":
        return d, 1.0 if d == 0 else 0.0
    return d, float(stats.kstwo.sf(d, x.size))


def _round_down(c: float, dtype: str) -> float:
    r = float(np.asarray(c).astype(numpy_type(dtype)).astype(np.float64))
    return float(_next(np.array([r]), dtype, -math.inf)[0]) if r > c else r


def _round_up(c: float, dtype: str) -> float:
    r = float(np.asarray(c).astype(numpy_type(dtype)).astype(np.float64))
    return float(_next(np.array([r]), dtype, math.inf)[0]) if r < c else r


@functools.lru_cache(maxsize=1024)  # both sides and the reference ask for the same numbers
def tail_probability(claim: Claim, dtype: str, lo: float, hi: float) -> float:
    """P(x~ < lo or x~ > hi) for the claim's samples rounded to ``dtype``."""
    cdf = _rounded_cdf(claim, dtype)
    below = cdf(np.array([_round_up(lo, dtype)]))[0][0]
    above = 1.0 - cdf(np.array([_round_down(hi, dtype)]))[1][0]
    return float(min(1.0, max(0.0, below + above)))


def _support(claim: Claim, dtype: str) -> tuple[float, float]:
    if claim.kind == "constant":
        return claim.low, claim.high
    slack = SUPPORT_SLACK_ULPS * 2 * unit_roundoff(dtype)  # relative: ulps of the bound
    return (claim.low - slack * abs(claim.low) if math.isfinite(claim.low) else -math.inf,
            claim.high + slack * abs(claim.high) if math.isfinite(claim.high) else math.inf)


def side_statistics(x: np.ndarray, claim: Claim, dtype: str) -> tuple[dict, dict]:
    """(statistics, p-values) of one side's sample against the claim."""
    from scipy import stats

    mean, var, kurt = claim.moments()
    n = int(x.size)
    lo, hi = _support(claim, dtype)
    s = {"n": n, "mean": float(x.mean()), "var": float(x.var(ddof=1)) if n > 1 else 0.0,
         "min": float(x.min()), "max": float(x.max()),
         "support_violations": int(((x < lo) | (x > hi)).sum())}
    s["ks_d"], p_ks = ks_one_sample(x, claim, dtype)
    p = {"ks": p_ks, "mean": None, "var": None}
    if var > 0 and n >= MIN_MOMENT_SAMPLES:
        z_mean = (s["mean"] - mean) / math.sqrt(var / n)
        z_var = (s["var"] - var) / (var * math.sqrt(2 / (n - 1) + kurt / n))
        p["mean"], p["var"] = (float(2 * stats.norm.sf(abs(z))) for z in (z_mean, z_var))
    sd = math.sqrt(var)
    for k in (2, 3):
        count = int((np.abs(x - mean) > k * sd).sum())
        s[f"tail{k}"] = count / n
        prob = tail_probability(claim, dtype, mean - k * sd, mean + k * sd) if sd > 0 else 0.0
        p[f"tail{k}"] = float(stats.binomtest(count, n, prob).pvalue)
    return s, p


def _reference_statistics(claim: Claim, dtype: str) -> dict:
    mean, var, kurt = claim.moments()
    sd = math.sqrt(var)
    lo, hi = _support(claim, dtype)
    out = {"mean": mean, "var": var, "excess_kurtosis": kurt,
           "low": lo if math.isfinite(lo) else None, "high": hi if math.isfinite(hi) else None}
    for k in (2, 3):
        out[f"tail{k}"] = tail_probability(claim, dtype, mean - k * sd, mean + k * sd) \
            if sd > 0 else 0.0
    return out


def _evidence(p_values: dict, violations: int) -> float:
    """-log10 of the smallest p-value of a side (at most 300; 300 with values outside the
    support): how far it is from the claim."""
    smallest = min(v for v in p_values.values() if v is not None)
    return 300.0 if violations else -math.log10(max(smallest, 1e-300))


def compare_samples(tf: np.ndarray, torch: np.ndarray, claim: Claim, dtype: str,
                    outputs: int) -> dict:
    """All statistics, p-values and the verdict for one output (``outputs``: per case)."""
    from scipy import stats

    alpha = CASE_ALPHA / (TESTS * outputs)
    a, b = (np.asarray(v, np.float64).ravel() for v in (tf, torch))
    sides = {"tf": side_statistics(a, claim, dtype), "torch": side_statistics(b, claim, dtype)}
    two = stats.ks_2samp(a, b)
    p_values = {"ks_2samp": float(two.pvalue)}
    for side, (_, p) in sides.items():
        p_values.update({f"{side}_{k}": v for k, v in p.items()})
    tested = {k: v for k, v in p_values.items() if v is not None}
    worst = min(tested, key=tested.get)
    min_p = tested[worst]
    violations = sum(s["support_violations"] for s, _ in sides.values())
    tf_e, torch_e = (_evidence(p, s["support_violations"]) for s, p in (sides["tf"],
                                                                          sides["torch"]))
    return {
        "kind": "distribution", "reference": claim.to_dict(), "dtype": dtype,
        "alpha_per_test": alpha, "samples": {"tf": int(a.size), "torch": int(b.size)},
        "statistics": {"tf": sides["tf"][0], "torch": sides["torch"][0],
                       "reference": _reference_statistics(claim, dtype)},
        "p_values": p_values, "min_p_value": min_p, "worst_test": worst,
        "failed": bool(min_p < alpha or violations > 0),
        # the two-sample KS distance is the largest difference of the two empirical CDFs
        "max_abs_diff": float(two.statistic),
        "bound_ratio": math.log(max(min_p, 1e-300)) / math.log(alpha),
        # a side's distance from the reference: -log10 of its smallest p-value
        "tf_error": tf_e, "torch_error": torch_e,
        "farther": "neither" if tf_e == torch_e else ("tf" if tf_e > torch_e else "torch"),
    }


def describe_mismatch(head: str, m: dict) -> str:
    """One line naming the worst test, its p-value, and both sides' moments."""
    st, ref = m["statistics"], m["statistics"]["reference"]
    fans = f"; fans tf {m['fans']['tf']}, torch {m['fans']['torch']}, reference " \
           f"{m['fans']['reference']}" if m.get("fans") and not m["fans"]["match"] else ""
    return (f"{head}: distribution mismatch: smallest p-value {m['min_p_value']:.3g} "
            f"({m['worst_test']}) vs alpha {m['alpha_per_test']:.3g}; variance tf "
            f"{st['tf']['var']:.6g}, torch {st['torch']['var']:.6g}, reference {ref['var']:.6g}; "
            f"support violations tf {st['tf']['support_violations']}, torch "
            f"{st['torch']['support_violations']}; KS distance {m['max_abs_diff']:.3g}{fans}")
