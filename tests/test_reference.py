"""The float64 reference against a direct loop, and its gradients by the adjoint identity."""
import itertools

import numpy as np
from hypothesis import given, settings, strategies as st

from parity.reference import conv_all, conv_forward, conv_grad_input, conv_grad_weight


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
