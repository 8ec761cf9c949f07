"""Hypothesis profiles: how many configs each op draws, instead of scattered max_examples.

``default`` is what ``make parity`` and ``parity run`` use: 56 configs per op, about
6,000 cases over every op and all its variants in under two minutes on 2 cores; ``full``
draws 170 (about 18,000 cases, what ``default`` drew before it was cut to fit that time).
Hypothesis drops duplicate draws, so a few less. An op draws
``round(examples * op.examples_share)`` configs: the initializer ops, whose cases pool
2 x 2**15 random draws, draw a quarter.
``realistic`` draws 20 configs per op that has layer shapes of real networks.
"""
from __future__ import annotations

from hypothesis import HealthCheck, Phase, Verbosity, settings

EXAMPLES = {"ci": 12, "dev": 40, "default": 56, "full": 170, "nightly": 1000, "explore": 5000,
            "realistic": 20}
SHAPES = {"realistic": "realistic"}
"""Profiles that draw the ops' ``realistic`` configs (layers of real networks, ``parity.spec.realistic``)
instead of the small ones; only the ops that have them take part."""
BUDGET_S = {"realistic": 540}
"""Default time budget of a run, by profile (seconds): when it is spent the run stops at a case
boundary and its report says so (``run.budget_spent``). The realistic plan interleaves the ops,
so a stopped run still covers each of them."""


def shapes_of(profile: str | None) -> str:
    """``"realistic"`` or ``"small"``: what a profile draws."""
    return SHAPES.get(profile or "default", "small")


def hypothesis_settings(examples: int, shrink: bool = False) -> settings:
    """Settings for drawing configs: no database, no deadline, seeded by the caller."""
    phases = [Phase.generate, Phase.shrink] if shrink else [Phase.generate]
    return settings(max_examples=examples, database=None, deadline=None, phases=phases,
                    suppress_health_check=list(HealthCheck), verbosity=Verbosity.quiet,
                    report_multiple_bugs=False)


def register_pytest_profiles() -> None:
    """The same names as Hypothesis profiles for the pytest suites in ``cases/``.

    ``ci`` is derandomized: ``make test`` checks the same cases on every run. The others
    draw new cases each run, to explore.
    """
    for name, n in EXAMPLES.items():
        if name in SHAPES:  # the suites draw the small shapes: no realistic profile there
            continue
        settings.register_profile(name, max_examples=n, deadline=None, database=None,
                                  suppress_health_check=list(HealthCheck),
                                  derandomize=name == "ci")
