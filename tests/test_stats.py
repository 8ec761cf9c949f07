"""The distribution comparator: calibrated on correct samplers, and able to fail."""
import math

import numpy as np
import pytest

from parity.core.numerics import round_to
from parity.core.stats import (CASE_ALPHA, TESTS, Claim, compare_samples, ks_one_sample,
                          tail_probability)

N = 2 ** 15
TRUNC = Claim.truncated_normal(0.0, 1.0, -2.0, 2.0)


def sampler(claim: Claim, rng, n: int, dtype: str, stretch: float = 1.0):
    """Correct draws from the claim (times ``stretch``), rounded to ``dtype``."""
    from scipy import stats

    if claim.kind == "normal":
        x = rng.normal(claim.loc, claim.scale, n)
    elif claim.kind == "uniform":
        x = rng.uniform(claim.low, claim.high, n)
    else:
        x = claim.dist().rvs(size=n, random_state=rng)
    return round_to(claim.loc + (x - claim.loc) * stretch, dtype)


CLAIMS = [Claim.normal(0.0, 0.1), Claim.uniform(-0.3, 0.3), TRUNC,
          Claim.truncated_normal(0.5, 2.0, -3.5, 4.5)]


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_p_values_of_correct_samples_are_calibrated(dtype):
    """Over 100 seeds per claim, each test's p-value falls below 0.05 about 5 % of the time
    (binomial upper tail 1e-4 allowed), for continuous and for heavily rounded samples."""
    rng = np.random.default_rng(1)
    below = {}
    cases = 100
    for claim in CLAIMS:
        for _ in range(cases):
            m = compare_samples(sampler(claim, rng, 2048, dtype), sampler(claim, rng, 2048, dtype),
                                claim, dtype, outputs=1)
            assert not m["failed"], (claim, m["worst_test"], m["min_p_value"])
            for test, p in m["p_values"].items():
                if p is not None:
                    below[test] = below.get(test, 0) + (p < 0.05)
    total = cases * len(CLAIMS)
    for test, count in below.items():
        # Binomial(400, 0.05): mean 20, P(>= 36) ~ 1e-4; discrete tests are conservative
        assert count < 36, f"{test}: {count} of {total} p-values below 0.05"
    assert sum(below.values()) > 0  # the p-values are not all 1


@pytest.mark.parametrize("stretch", [math.sqrt(1.066), 1 / math.sqrt(1.066)])
def test_a_variance_off_by_the_stated_minimum_is_caught(stretch):
    """The stated power: a variance ratio of 1.066 at 2**15 values is caught (5 of 5 seeds)."""
    rng = np.random.default_rng(2)
    for _ in range(5):
        claim = Claim.normal(0.0, 0.05)
        m = compare_samples(sampler(claim, rng, N, "float32"),
                            sampler(claim, rng, N, "float32", stretch), claim, "float32", 1)
        assert m["failed"] and m["farther"] == "torch", m["p_values"]


def test_a_missing_truncation_is_caught_with_equal_variance():
    rng = np.random.default_rng(3)
    std = float(TRUNC.dist().std())
    m = compare_samples(sampler(TRUNC, rng, N, "float32"), rng.normal(0, std, N), TRUNC,
                        "float32", 1)
    assert m["failed"] and m["statistics"]["torch"]["support_violations"] > 0
    assert m["p_values"]["torch_tail3"] < m["alpha_per_test"]
    assert abs(m["statistics"]["torch"]["var"] / m["statistics"]["reference"]["var"] - 1) < 0.05


def test_a_shifted_mean_is_caught():
    rng = np.random.default_rng(4)
    claim = Claim.uniform(-1.0, 1.0)
    m = compare_samples(sampler(claim, rng, N, "float32"), sampler(claim, rng, N, "float32") + 0.03,
                        claim, "float32", 1)
    assert m["failed"] and m["p_values"]["torch_mean"] < m["alpha_per_test"]


def test_a_constant_claim_is_exact():
    zeros, ones = np.zeros(100), np.ones(100)
    assert not compare_samples(zeros, zeros, Claim.constant(0.0), "float32", 1)["failed"]
    m = compare_samples(zeros, ones * 1e-30, Claim.constant(0.0), "float32", 1)
    assert m["failed"] and m["statistics"]["torch"]["support_violations"] == 100


def test_alpha_is_split_over_every_test_of_a_case():
    m = compare_samples(np.zeros(10), np.zeros(10), Claim.constant(0.0), "float64", outputs=2)
    assert m["alpha_per_test"] == CASE_ALPHA / (TESTS * 2)
    assert TESTS == len(m["p_values"])


def test_ks_distance_of_a_lattice_is_measured():
    """128 equally spaced values (TF's bfloat16 uniform) are 1/128 away from U(-1, 1)."""
    lattice = np.repeat(np.arange(-64, 64) / 64, 10000)
    d, p = ks_one_sample(lattice, Claim.uniform(-1.0, 1.0), "float64")
    assert d == pytest.approx(1 / 128, rel=1e-9) and p < 1e-10


def test_tail_probability_follows_rounding():
    """A uniform on [-1, 1] rounded to bfloat16 puts mass beyond 0.999 only in the value 1."""
    claim = Claim.uniform(-1.0, 1.0)
    assert tail_probability(claim, "float64", -0.5, 0.5) == pytest.approx(0.5)
    # bfloat16 values near 1 are 2**-8 apart: everything above 1 - 2**-9 rounds to 1
    assert tail_probability(claim, "bfloat16", -2.0, 0.999) == pytest.approx(2 ** -9 / 2, rel=1e-6)
