"""The errors every layer raises for bad input: one line each, exit 2 at the command line."""
from __future__ import annotations


class BadInput(ValueError):
    """Reported as one line, exit 2 (the Python API raises it as a ValueError)."""


class CandidateError(ValueError):
    """A candidate that cannot be used: one line, exit 2."""
