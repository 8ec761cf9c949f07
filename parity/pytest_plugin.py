"""The ``parity`` fixture for your own test suite (pytest entry point ``parity``).

    def test_my_conv(parity):
        parity.audit("conv2d_same", mypkg.layers.conv2d_same, examples=200)

    def test_my_layer(parity):
        parity.assert_equivalent(keras.layers.Dense(3, kernel_initializer="ones"),
                                 my_torch_dense, np.ones((2, 4), "float32"))

``audit`` fails the test with what ``parity audit`` prints: each failure class with its config
shrunk by Hypothesis and a repro snippet. The report goes to the test's ``tmp_path``. Configs
per op: ``examples=`` in the call, else ``@pytest.mark.parity(examples=, profile=, seed=)``,
else ``--parity-profile`` (default: the ``default`` profile, 56), with ``--parity-seed`` (0).

Inert unless a test asks for the fixture: two options and a marker; nothing of the harness or
the frameworks is imported before a test uses it.
"""
from __future__ import annotations

import pytest


def pytest_addoption(parser) -> None:
    group = parser.getgroup("parity", "TensorFlow vs PyTorch parity (the parity fixture)")
    group.addoption("--parity-profile", default=None,
                    help="parity's Hypothesis profile for the parity fixture's audits "
                         "(configs per op; default: default)")
    group.addoption("--parity-seed", type=int, default=None,
                    help="seed of the parity fixture's audits (default 0)")


def pytest_configure(config) -> None:
    config.addinivalue_line(
        "markers", "parity(examples=None, profile=None, seed=None): the parity fixture's "
        "settings for this test")


class Parity:
    """What the ``parity`` fixture gives a test."""

    def __init__(self, request, out):
        marker = request.node.get_closest_marker("parity")
        self._marked = dict(marker.kwargs) if marker else {}
        self._options = request.config
        self._out = out

    def _setting(self, name: str, given, option: str):
        if given is not None:
            return given
        if self._marked.get(name) is not None:
            return self._marked[name]
        return self._options.getoption(option) if option else None

    def audit(self, op: str, candidate, *, examples: int | None = None,
              dtypes: list[str] | None = None, **options):
        """``parity.audit`` (the API) on ``candidate``; a failing audit fails the test with
        the shrunk configs and repro snippets. Returns the ``AuditResult``."""
        from parity.api import audit

        result = audit(op, candidate,
                       examples=self._setting("examples", examples, None),
                       profile=self._setting("profile", None, "--parity-profile"),
                       seed=self._setting("seed", None, "--parity-seed") or 0,
                       dtypes=dtypes, out=self._out, **options)
        if not result.passed:
            pytest.fail(result.explain(), pytrace=False)
        return result

    def assert_equivalent(self, tf_fn, torch_fn, inputs, *, rtol: float | None = None,
                          atol: float | None = None) -> None:
        """Call ``tf_fn`` (a Keras layer or a TF function) and ``torch_fn`` on the same
        ``inputs`` (an array or a tuple of arrays, in each function's own layout) and fail
        the test unless every output has TF's dtype and agrees within
        ``torch.testing.assert_close``'s tolerance for it (or ``rtol``/``atol``), saying where
        and by how much."""
        from parity.api import equivalence_failures

        failures = equivalence_failures(tf_fn, torch_fn, inputs, rtol=rtol, atol=atol)
        if failures:
            pytest.fail("TensorFlow and torch differ:\n" + "\n".join(failures), pytrace=False)


@pytest.fixture
def parity(request, tmp_path) -> Parity:
    """TensorFlow-vs-torch checks for this test (``parity.pytest_plugin``)."""
    return Parity(request, tmp_path / "parity")
