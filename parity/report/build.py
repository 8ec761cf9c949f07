"""Assemble a report dict from case records.

Example:
    >>> r = build_report([], run={"command": "run", "seed": 0}, environment={}, complete=True)
    >>> r["schema_version"], r["complete"], r["summary"]
    (2, True, [])
"""
from __future__ import annotations

from collections import defaultdict

from parity.core.tolerance import output_failed

SCHEMA_VERSION = 2
_UNEXPECTED = ("fail", "error")


def unexpected(record: dict) -> bool:
    """A case that makes the run exit 1: a fail or error, or a rejection no registry entry explains."""
    status = record["status"]
    return status in _UNEXPECTED or (status.startswith("rejected") and not record["divergence"])


def _worst(values):
    values = [v for v in values if v is not None]
    return max(values) if values else None


def _group_summary(records: list[dict]) -> dict:
    counts: dict[str, int] = defaultdict(int)
    for r in records:
        counts[r["status"]] += 1
    farther: dict[str, int] = defaultdict(int)
    for r in records:
        if r["status"] in ("fail", "known_divergence"):
            sides = {m["farther"] for m in r["outputs"].values()
                     if output_failed(m) and m["farther"] != "neither"}
            farther["tf" if sides == {"tf"} else "torch" if sides == {"torch"} else "mixed"] += 1
    return {"cases": len(records), "counts": dict(sorted(counts.items())),
            "farther_from_reference": dict(sorted(farther.items())),
            "unexpected": sum(unexpected(r) for r in records),
            "worst_max_abs_diff": _worst(r["max_abs_diff"] for r in records),
            "worst_bound_ratio": _worst(r["max_bound_ratio"] for r in records)}


def summarize(records: list[dict]) -> list[dict]:
    """Per op and variant: status counts, worst diff and bound ratio, and the same per dtype."""
    groups: dict[tuple, list] = defaultdict(list)
    for r in records:
        groups[(r["op"], r["variant"])].append(r)
    out = []
    for (op, variant), recs in sorted(groups.items()):
        by_dtype: dict[str, list] = defaultdict(list)
        for r in recs:
            by_dtype[r["dtype"] or "?"].append(r)
        entry = {"op": op, "variant": variant, **_group_summary(recs),
                 "by_dtype": {d: _group_summary(rs) for d, rs in sorted(by_dtype.items())}}
        out.append(entry)
    return out


def build_report(records: list[dict], *, run: dict, environment: dict, complete: bool,
                 divergences: list[dict] | None = None, audit: dict | None = None) -> dict:
    report = {"schema_version": SCHEMA_VERSION, "complete": complete, "environment": environment,
              "run": run, "summary": summarize(records), "divergences": divergences or [],
              "cases": records}
    if audit is not None:
        report["audit"] = audit
    return report
