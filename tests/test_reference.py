"""The float64 reference against a direct loop, and its gradients by the adjoint identity."""
import itertools

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from parity.spec.reference import conv_all, conv_forward, conv_grad_input, conv_grad_weight


def loop_conv(x, w, pads, stride, dilation, groups):
    """Definition of cross-correlation, one output element at a time."""
    n, c = x.shape[:2]
    o, k = w.shape[0], w.shape[2:]
    xp = np.pad(x, [(0, 0), (0, 0)] + list(pads))
    out_sp = [(xp.shape[2 + i] - ((k[i] - 1) * dilation[i] + 1)) // stride[i] + 1
              for i in range(len(k))]
    y = np.zeros((n, o, *out_sp))
    cg, og = c // groups, o // groups
    for b, oc in itertools.product(range(n), range(o)):
        g = oc // og
        for pos in itertools.product(*map(range, out_sp)):
            acc = 0.0
            for ic in range(cg):
                for tap in itertools.product(*map(range, k)):
                    src = tuple(p * s + t * d for p, s, t, d in zip(pos, stride, tap, dilation))
                    acc += xp[(b, g * cg + ic) + src] * w[(oc, ic) + tap]
            y[(b, oc) + pos] = acc
    return y


@st.composite
def small_case(draw):
    rank = draw(st.integers(1, 3))
    groups = draw(st.integers(1, 2))
    k = tuple(draw(st.integers(1, 3)) for _ in range(rank))
    s = tuple(draw(st.integers(1, 3)) for _ in range(rank))
    d = tuple(draw(st.integers(1, 2)) for _ in range(rank))
    pads = [(draw(st.integers(0, 2)), draw(st.integers(0, 2))) for _ in range(rank)]
    sp = tuple((ki - 1) * di + 1 + draw(st.integers(0, 3)) for ki, di in zip(k, d))
    rng = np.random.default_rng(draw(st.integers(0, 2**16)))
    x = rng.standard_normal((2, groups * draw(st.integers(1, 2)), *sp))
    w = rng.standard_normal((groups * draw(st.integers(1, 2)), x.shape[1] // groups, *k))
    return x, w, pads, s, d, groups, rng


@settings(max_examples=40, deadline=None)
@given(small_case())
def test_forward_matches_loop(case):
    x, w, pads, s, d, g, _ = case
    np.testing.assert_allclose(conv_forward(x, w, pads, s, d, g), loop_conv(x, w, pads, s, d, g),
                               rtol=1e-12, atol=1e-12)


@settings(max_examples=40, deadline=None)
@given(small_case())
def test_gradients_are_adjoints(case):
    x, w, pads, s, d, g, rng = case
    y = conv_forward(x, w, pads, s, d, g)
    dy = rng.standard_normal(y.shape)
    dx = conv_grad_input(dy, w, x.shape, pads, s, d, g)
    dw = conv_grad_weight(x, dy, w.shape[2:], pads, s, d, g)
    # <conv(x, w), dy> is linear in x and in w: its gradients are the adjoint maps
    assert np.isclose((y * dy).sum(), (x * dx).sum(), rtol=1e-10)
    assert np.isclose((y * dy).sum(), (w * dw).sum(), rtol=1e-10)
    out = conv_all(x, w, np.ones(w.shape[0]), dy, pads, s, d, g)
    np.testing.assert_allclose(out["db"], dy.sum(axis=(0,) + tuple(range(2, dy.ndim))))


def test_a_shifted_padding_is_not_the_reference():
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((1, 1, 6, 6)), rng.standard_normal((1, 1, 2, 2))
    right = conv_forward(x, w, [(0, 1), (0, 1)], (1, 1), (1, 1), 1)
    wrong = conv_forward(x, w, [(1, 0), (1, 0)], (1, 1), (1, 1), 1)
    assert np.abs(right - wrong).max() > 0.1


@pytest.mark.parametrize("semantics", ["ieee", "tf"])
def test_pooling_a_block_of_channels_at_a_time_changes_nothing(monkeypatch, semantics):
    """Large inputs are pooled in blocks of channels (flat memory): the same values, NaN, inf and
    ties included, as pooling all channels at once."""
    from parity.spec import reference_pool as P

    rng = np.random.default_rng(3)
    x = rng.integers(-2, 3, size=(2, 7, 9, 8)).astype(np.float64)  # ties everywhere
    x[0, 1, 2, 3], x[1, 4, 0, 0], x[1, 6, 5, 5] = np.nan, np.inf, -np.inf
    dy = rng.uniform(-1, 1, (2, 7, 5, 4))
    pads = [(1, 1), (1, 1)]
    whole = P.max_pool(x, (3, 3), pads, (2, 2), dy, semantics, "float32")
    avg_whole = P.avg_pool(x, (3, 3), pads, (2, 2), dy)
    monkeypatch.setattr(P, "BLOCK_CELLS", 300)  # about one channel per block
    blocked = P.max_pool(x, (3, 3), pads, (2, 2), dy, semantics, "float32")
    avg_blocked = P.avg_pool(x, (3, 3), pads, (2, 2), dy)
    assert whole.keys() == blocked.keys() and whole["ties"] is blocked["ties"] is True
    for a, b in ((whole, blocked), (avg_whole, avg_blocked)):
        for k in a:
            if k != "ties":
                np.testing.assert_array_equal(a[k], b[k])
