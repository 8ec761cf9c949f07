"""What a command asks for, checked before any case runs: ops, variants, dtypes, examples,
workers, a candidate, a non-empty plan. Shared by ``parity.api`` and ``parity.cli``; each
refusal is a one-line ``BadInput``."""
from __future__ import annotations

import os

from parity.core.errors import BadInput
from parity.core.numerics import DTYPES
from parity.core.profiles import EXAMPLES
from parity.spec import registry

MAX_EXAMPLES = 100_000
"""The most configs ``--examples`` may ask per op (``explore`` draws 5,000)."""


def csv(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def names(text: str, flag: str) -> list[str]:
    """A comma list that names something, each once."""
    chosen = csv(text)
    if not chosen:
        raise BadInput(f"{flag} {text!r} names nothing; leave {flag} out for all")
    return once(chosen, flag)


def once(chosen: list[str], flag: str) -> list[str]:
    twice = sorted({n for n in chosen if chosen.count(n) > 1})
    if twice:
        raise BadInput(f"{flag} names {', '.join(twice)} more than once")
    return chosen


def ops(text: str | None, shapes: str = "small") -> list[str]:
    """The ``--ops`` asked (default: all, or with realistic shapes all that have them)."""
    from parity.spec.sweep import NoRealisticShapes, realistic_ops

    if text is None:
        return realistic_ops() if shapes == "realistic" else registry.names()
    chosen = names(text, "--ops")
    for name in chosen:
        registry.get(name)  # raises UnknownOp listing the known ops
    lacking = [n for n in chosen if shapes == "realistic" and registry.get(n).realistic is None]
    if lacking:
        raise NoRealisticShapes(f"{', '.join(lacking)} {'has' if len(lacking) == 1 else 'have'} "
                                f"no realistic shapes; ops that have: "
                                f"{', '.join(realistic_ops())}")
    return chosen


def variants(text: str | None, op_names: list[str]) -> list[str]:
    """The ``--variants`` asked; each must be a variant of at least one of ``op_names``."""
    if text is None:
        return []
    chosen = names(text, "--variants")
    known = {v for op in op_names for v in registry.get(op).variants}
    unknown = [v for v in chosen if v not in known]
    if unknown:
        which = ", ".join(op_names) if len(op_names) < 4 else "these ops"
        raise BadInput(f"unknown variant(s) {', '.join(unknown)} for {which}; "
                       f"known: {', '.join(sorted(known))}")
    return chosen


def dtypes(values: list[str] | None) -> list[str]:
    chosen = [d for v in values or [] for d in csv(v)] or list(DTYPES)
    bad = [d for d in chosen if d not in DTYPES]
    if bad:
        raise BadInput(f"unknown dtype(s) {', '.join(bad)}; known: {', '.join(DTYPES)}")
    return once(chosen, "--dtypes")


def examples(count: int | None, profile: str | None) -> int:
    """``--examples`` per op, else the profile's."""
    if count is not None:
        if not 1 <= count <= MAX_EXAMPLES:
            raise BadInput(f"--examples must be between 1 and {MAX_EXAMPLES:,}, got {count:,}")
        return count
    if (profile or "default") not in EXAMPLES:
        raise BadInput(f"unknown profile {profile!r}; known: {', '.join(sorted(EXAMPLES))}")
    return EXAMPLES[profile or "default"]


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def workers(requested: int | None, cases: int) -> int:
    """``--workers``: at least 1, at most this machine's cores and one per case (each worker
    imports both frameworks first: more of them only wait)."""
    n = 1 if requested is None else requested
    if n < 1:
        raise BadInput("--workers must be at least 1")
    if n > 1 and n > cores():
        raise BadInput(f"--workers {n} is more than this machine's {cores()} cores")
    if n > 1 and n > cases:
        raise BadInput(f"--workers {n} for {cases} cases: at most one worker per case")
    return n


def registry_checked() -> None:
    """The divergence registry, loaded and checked whole before any case runs."""
    from parity.spec.divergences import Registry

    Registry.load()


def plan_or_refuse(cases: list, what: str) -> list:
    if not cases:
        raise BadInput(f"the plan has no cases ({what})")
    return cases


def require_frameworks() -> None:
    from parity.backends import missing

    gone = missing()
    if gone:
        raise BadInput(f"cannot run cases: {', '.join(gone)} not importable "
                       "(make venv installs the pinned environment)")


def load_candidate(spec: str):
    """``pkg.module:function`` -> the callable, or ``BadInput`` saying why not (in this
    process: audits load the candidate in their worker instead)."""
    from parity.exec.candidates import CandidateError, load

    try:
        return load(spec)
    except CandidateError as e:
        raise BadInput(str(e)) from None


def describe(record: dict) -> list[str]:
    """A case record in a few printable lines: its verdict, error and failing outputs."""
    from parity.core.text import printable
    from parity.core.tolerance import describe_failure, output_failed

    lines = [f"{record['op']} case {record['id']} ({record['variant']}): {record['status']}"]
    if record["error"]:
        lines.append(f"  {record['error']}")
    lines += [f"  {describe_failure(record['op'], record['id'], n, m)}"
              for n, m in record["outputs"].items() if output_failed(m)]
    return [printable(line) for line in lines]  # a report's text, never a terminal's commands
