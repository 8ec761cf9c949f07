"""A whole run or audit: plan, execute every case, always leave a valid report.

Ctrl-C or SIGTERM stops the loop; the cases done so far are written with
``complete: false`` and ``run.interrupted: true``.
"""
from __future__ import annotations

import signal
import time
from datetime import datetime, timezone

from hypothesis import given, seed as hypothesis_seed

from parity import environment
from parity.divergences import Registry
from parity.profiles import hypothesis_settings
from parity.report import build_report, write_report, write_report_html
from parity.runner import run_case
from parity.sweep import case_strategy, plan_cases


def _run_name(command: str) -> str:
    return f"{command}-{datetime.now(timezone.utc).strftime('%Y%m%dT%H%M%S%fZ')}"


class _Sigterm:
    """While a run lasts, SIGTERM asks it to stop at the next case boundary.

    (Ctrl-C still raises KeyboardInterrupt at once; both end in a partial report.)
    """

    requested = False

    def __enter__(self):
        def handler(signum, frame):
            self.requested = True
        try:
            self.old = signal.signal(signal.SIGTERM, handler)
        except ValueError:  # not the main thread
            self.old = None
        return self

    def __exit__(self, *exc):
        if self.old is not None:
            signal.signal(signal.SIGTERM, self.old)


def _finish(records, run: dict, registry: Registry, out_dir, name, complete, audit=None):
    run["duration_s"] = round(time.perf_counter() - run.pop("_start"), 3)
    report = build_report(records, run=run, complete=complete,
                          environment=environment.collect(environment.framework_threads()),
                          divergences=[e.summary() for e in registry.entries], audit=audit)
    path = write_report(report, out_dir, name)  # the JSON first: it must exist whatever follows
    write_report_html(report, path)
    return report, path


def run_sweep(ops, *, examples: int, seed: int, dtypes, variants=None, out_dir="reports",
              progress=None, per_op_share: bool = True):
    """Run every planned case; return (report, path). ``progress(done, total)`` before each case.

    ``per_op_share``: scale ``examples`` by each op's ``examples_share`` (profiles do; an
    explicit ``--examples`` does not)."""
    run = {"command": "run", "seed": seed, "examples": examples, "ops": list(ops),
           "dtypes": list(dtypes), "variants": list(variants or [])}
    return _execute(lambda: plan_cases(ops, variants, examples, seed, dtypes, per_op_share),
                    run, out_dir, progress)


def run_replay(baseline: dict, baseline_path: str, *, out_dir="reports", progress=None):
    """Re-run exactly the cases (op, variant, config, seed) of an earlier run report, in its
    order, on the current environment; return (report, path)."""
    if baseline["run"].get("command") == "audit":
        from parity.report import ReportError
        raise ReportError(f"{baseline_path} is an audit report: its cases need the candidate; "
                          "run the audit again instead")
    plan = [(c["op"], c["variant"], c["config"], c["seed"]) for c in baseline["cases"]]
    run = {"command": "replay", "baseline": str(baseline_path),
           "seed": baseline["run"].get("seed", 0), "ops": sorted({p[0] for p in plan}),
           "dtypes": baseline["run"].get("dtypes", [])}
    return _execute(lambda: plan, run, out_dir, progress)


def _execute(make_plan, run: dict, out_dir, progress):
    """Run a plan of (op, variant, config, seed); always write a report (partial if stopped)."""
    registry = Registry.load()
    run.update(interrupted=False, _start=time.perf_counter())
    records: list[dict] = []
    with _Sigterm() as stop:
        try:
            plan = make_plan()
            for i, (op, variant, config, s) in enumerate(plan):
                if progress:
                    progress(i, len(plan))
                if stop.requested:
                    raise KeyboardInterrupt
                records.append(run_case(op, variant, config, s, divergences=registry))
        except KeyboardInterrupt:
            run["interrupted"] = True
    return _finish(records, run, registry, out_dir, _run_name(run["command"]),
                   complete=not run["interrupted"])


class CandidateFailed(Exception):
    def __init__(self, record: dict):
        super().__init__(record["id"])
        self.record = record


def run_audit(op_name: str, candidate, candidate_name: str, *, examples: int, seed: int, dtypes,
              out_dir="reports"):
    """Generate cases for ``op_name``, judge the candidate; Hypothesis shrinks a failure.

    Returns (report, path, minimal failing record or None).
    """
    registry = Registry.load()
    run = {"command": "audit", "seed": seed, "examples": examples, "ops": [op_name],
           "dtypes": list(dtypes), "interrupted": False, "_start": time.perf_counter()}
    records: dict[str, dict] = {}

    @hypothesis_settings(examples, shrink=True)
    @hypothesis_seed(seed)
    @given(case_strategy(op_name, dtypes))
    def check(pair):
        if stop.requested:
            raise KeyboardInterrupt
        config, s = pair
        rec = run_case(op_name, "audit", config.to_dict(), s, candidate=candidate,
                       candidate_name=candidate_name, divergences=registry)
        records[rec["id"]] = rec
        if rec["status"] in ("fail", "error"):  # TF refusing a config is not the candidate's fault
            raise CandidateFailed(rec)

    minimal = None
    with _Sigterm() as stop:
        try:
            check()
        except CandidateFailed as e:
            minimal = e.record
        except BaseExceptionGroup as group:  # a candidate that fails only sometimes (flaky)
            found = group.subgroup(CandidateFailed)
            if found is None:
                raise
            minimal = found.exceptions[0].record
        except KeyboardInterrupt:
            run["interrupted"] = True
    if minimal is not None:
        minimal["minimal"] = True
        records[minimal["id"]] = minimal
    audit = {"op": op_name, "candidate": candidate_name,
             "verdict": "fail" if minimal else "pass",
             "minimal_case": minimal["id"] if minimal else None,
             "message": minimal["error"] if minimal else None}
    report, path = _finish(list(records.values()), run, registry, out_dir, _run_name("audit"),
                           complete=not run["interrupted"], audit=audit)
    return report, path, minimal
