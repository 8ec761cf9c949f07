"""Reports written by older versions of parity, brought to the current schema on load.

Each step takes a report of version ``n`` to ``n + 1``; ``upgrade`` applies them in order.
Version 2 added ``intermittent`` to each divergence summary, distribution metrics for the
initializer ops, and ``run.command: "replay"``.

Example:
    >>> upgrade({"schema_version": 1, "divergences": [{"id": "x"}]})["divergences"]
    [{'id': 'x', 'intermittent': False}]
"""
from __future__ import annotations

from parity.report.build import SCHEMA_VERSION


class IncompatibleReport(ValueError):
    pass


def _v1_to_v2(report: dict) -> dict:
    for d in report.get("divergences") or []:
        if isinstance(d, dict):
            d.setdefault("intermittent", False)
    return report


STEPS = {1: _v1_to_v2}


def upgrade(report: dict) -> dict:
    """The report at ``SCHEMA_VERSION`` (in place); ``IncompatibleReport`` if it cannot be."""
    version = report.get("schema_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise IncompatibleReport(f"schema_version {version!r} is not a parity report version")
    if version > SCHEMA_VERSION:
        raise IncompatibleReport(f"schema_version {version} is newer than this parity reads "
                                 f"({SCHEMA_VERSION}); upgrade parity")
    if version < SCHEMA_VERSION and isinstance(report.get("run"), dict):
        report["run"]["upgraded_from"] = version  # merge refuses to mix versions
    while version < SCHEMA_VERSION:
        report = STEPS[version](report)
        version += 1
        report["schema_version"] = version
    return report
