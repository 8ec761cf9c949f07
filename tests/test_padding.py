"""TF SAME arithmetic against its definition, window by window."""
import pytest
from hypothesis import given, strategies as st

from parity.core.padding import as_tuple, same_padding


def brute_force(n, k, s, d):
    """Smallest symmetric-as-possible padding that gives ceil(n/s) windows covering the input."""
    out = -(-n // s)
    eff = (k - 1) * d + 1
    total = max((out - 1) * s + eff - n, 0)
    # the defining properties: every output window fits, and no window would be added
    assert (n + total - eff) // s + 1 == out
    return out, total // 2, total - total // 2


@given(st.integers(1, 40), st.integers(1, 9), st.integers(1, 5), st.integers(1, 4))
def test_same_padding_definition(n, k, s, d):
    p = same_padding(n, k, s, d)
    assert (p.out, p.before, p.after) == brute_force(n, k, s, d)
    assert p.after - p.before in (0, 1)  # the odd pixel goes at the end


@pytest.mark.parametrize("args, expected", [
    ((7, 3, 1, 1), (7, 1, 1)), ((7, 4, 1, 1), (7, 1, 2)), ((7, 4, 2, 1), (4, 1, 2)),
    ((5, 3, 2, 1), (3, 1, 1)), ((6, 3, 2, 1), (3, 0, 1)), ((3, 1, 3, 1), (1, 0, 0)),
    ((2, 7, 1, 3), (2, 9, 9))])
def test_same_padding_examples(args, expected):
    assert tuple(same_padding(*args)) == expected


def test_wrong_rule_is_distinguishable():
    # the "k // 2 on both sides" rule gives another answer exactly where TF is asymmetric
    p = same_padding(8, 4, 1, 1)
    assert (p.before, p.after) != (4 // 2, 4 // 2)


def test_rejects_non_positive():
    with pytest.raises(ValueError, match="positive"):
        same_padding(0, 3)


def test_as_tuple():
    assert as_tuple(3, 2) == (3, 3)
    with pytest.raises(ValueError, match="needs 2 values"):
        as_tuple((1, 2, 3), 2)
