"""A whole run, replay or merge: plan, execute every case, always leave a valid report
(audits: ``parity.flows.auditing``).

Ctrl-C, SIGTERM or SIGHUP stops the loop; the cases done so far are written with
``complete: false`` and ``run.interrupted: true`` (``run.signal`` names a signal that did it).
"""
from __future__ import annotations

import json
import time
from datetime import datetime, timezone

from parity.backends import environment

from parity.core import signals
from parity.spec.divergences import Registry
from parity.report import ReportError, build_report, write_report, write_report_html
from parity.exec.runner import recount, run_case
from parity.spec.sweep import plan_cases


def run_name(command: str) -> str:
    """The report's file name: the command and the UTC time to the microsecond."""
    return f"{command}-{datetime.now(timezone.utc).strftime('%Y%m%dT%H%M%S%fZ')}"


class StopAtCaseBoundary:
    """While a run lasts, SIGTERM or SIGHUP asks it to stop at the next case boundary, and so
    does the end of its time budget (``budget_s``, from entering; ``spent`` says it ran out).

    (Ctrl-C still raises KeyboardInterrupt at once; all end in a partial report.)
    """

    signalled = False
    immediate = False
    """Set by a caller that runs no case itself (the worker pool's coordinator): SIGTERM then
    raises KeyboardInterrupt at once, even out of a call blocked on a stuck worker."""

    def __init__(self, budget_s: float | None = None):
        self.budget_s = budget_s

    @property
    def spent(self) -> bool:
        return self.budget_s is not None and time.perf_counter() - self.started > self.budget_s

    @property
    def requested(self) -> bool:
        return self.signalled or self.spent

    def __enter__(self):
        self.started = time.perf_counter()

        def handler(signum, frame):
            self.signalled = True
            signals.note(signum)
            if self.immediate:
                raise KeyboardInterrupt
        self.old = signals.install(handler)
        return self

    def __exit__(self, *exc):
        signals.restore(self.old)


def finish(records, run: dict, registry: Registry, out_dir, name, complete, started: float,
           audit=None, env: dict | None = None):
    """Build, write (JSON, then HTML) and return (report, path); ``started`` is the
    ``time.perf_counter()`` the work began at; ``env`` defaults to this process's environment."""
    run["duration_s"] = round(time.perf_counter() - started, 3)
    report = build_report(records, run=run, complete=complete,
                          environment=env or environment.collect(environment.framework_threads()),
                          divergences=[e.summary() for e in registry.entries], audit=audit)
    path = write_report(report, out_dir, name)  # the JSON first: it must exist whatever follows
    write_report_html(report, path)
    return report, path


def sweep_plan(ops, variants, examples: int, seed: int, dtypes, per_op_share: bool = True,
               shard: tuple[int, int] | None = None, shapes: str = "small") -> tuple[list, dict]:
    """(cases of the plan, distinct configs drawn per op): what ``run_sweep`` runs."""
    cases = plan_cases(ops, variants, examples, seed, dtypes, per_op_share, shapes)
    configs = {op: len({(json.dumps(c, sort_keys=True), sd) for o, _, c, sd in cases if o == op})
               for op in ops}
    return ([c for c in cases if in_shard(c, shard)] if shard else cases), configs


def run_sweep(ops, *, examples: int, seed: int, dtypes, variants=None, out_dir="reports",
              progress=None, per_op_share: bool = True, workers: int = 1,
              shard: tuple[int, int] | None = None, planned: tuple[list, dict] | None = None,
              shapes: str = "small", budget_s: float | None = None):
    """Run every planned case; return (report, path). ``progress(done, total)`` as cases finish.

    ``per_op_share``: scale ``examples`` by each op's ``examples_share`` (profiles do; an
    explicit ``--examples`` does not). ``workers > 1`` runs the cases in forked workers
    (same ids, metrics and order as one process). ``shard=(i, n)`` keeps the cases whose id
    falls in shard ``i`` of ``n`` (1-based), a deterministic split for several machines.
    ``planned``: ``sweep_plan``'s result for these arguments, when the caller already has it.
    ``shapes``: ``"realistic"`` draws layer shapes of real networks (``parity.spec.realistic``).
    ``budget_s``: stop at the first case boundary after that many seconds (``run.budget_spent``,
    an incomplete report)."""
    run = {"command": "run", "seed": seed, "examples": examples, "ops": list(ops),
           "dtypes": list(dtypes), "variants": list(variants or []), "workers": workers}
    if shard:
        run["shard"] = f"{shard[0]}/{shard[1]}"
    if shapes != "small":
        run["shapes"] = shapes

    def plan():
        cases, run["configs"] = planned or sweep_plan(ops, variants, examples, seed, dtypes,
                                                      per_op_share, shard, shapes)
        return cases
    return _execute(plan, run, out_dir, progress, workers=workers, budget_s=budget_s)


def in_shard(case: tuple, shard: tuple[int, int]) -> bool:
    """Whether (op, variant, config, seed) belongs to shard ``i`` of ``n`` (by its case id)."""
    from parity.core.ids import case_id

    i, n = shard
    return int(case_id(*case), 16) % n == i - 1


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


def run_reference(archive, plan=None, *, variants=None, shard=None, out_dir="reports",
                  progress=None, budget_s: float | None = None, workers: int = 1):
    """The archive's cases (``plan``: those ``reference_plan`` selected, default all) with the
    torch sides only, judged against its recorded TF results (TensorFlow is never imported);
    ``variants`` and ``shard`` are recorded as the selection; ``workers > 1`` runs them in
    forked workers that each open the archive. Returns (report, path); the report is complete
    only if the archive is."""
    plan = archive.plan if plan is None else plan
    run = {"command": "run", "reference": str(archive.path),
           "reference_packages": archive.environment.get("packages", {}),
           "seed": 0, "ops": sorted({c[0] for c in plan}),
           "dtypes": sorted({c[2].get("dtype") for c in plan if c[2].get("dtype")}),
           "variants": list(variants or [])}
    if shard:
        run["shard"] = f"{shard[0]}/{shard[1]}"
    if archive.shapes != "small":
        run["shapes"] = archive.shapes
    if workers > 1:
        run["workers"] = workers
    return _execute(lambda: plan, run, out_dir, progress, source_complete=archive.complete,
                    budget_s=budget_s, workers=workers, archive=archive)


def reference_plan(archive, ops=None, variants=None, dtypes=None, shard=None) -> list:
    """The archive's cases kept by the filters (each empty or None: no filter)."""
    return [c for c in archive.plan if (not ops or c[0] in ops) and
            (not variants or c[1] in variants) and (not dtypes or c[2].get("dtype") in dtypes)
            and (not shard or in_shard(c, shard))]


def _execute(make_plan, run: dict, out_dir, progress, source_complete: bool = True,
             workers: int = 1, budget_s: float | None = None, archive=None):
    """Run a plan of (op, variant, config, seed), in this process or in ``workers`` forked
    workers (``parity.exec.parallel``); always write a report (partial if stopped, by a signal or by
    the time budget, or if the cases' source, e.g. an interrupted record archive, is).
    ``archive``: a record archive whose TF results stand in for TensorFlow."""
    registry = Registry.load()
    started = time.perf_counter()
    run["interrupted"] = False
    if budget_s is not None:
        run["budget_s"] = budget_s
    records: list[dict] = []
    with StopAtCaseBoundary(budget_s) as stop:
        try:
            if workers > 1:  # the workers' server imports the frameworks while the plan is drawn
                from parity.exec import forking
                forking.warm(skip=() if archive is None else ("tensorflow", "keras"))
            plan = make_plan()
            if workers > 1:
                from parity.exec.parallel import run_plan_in_workers

                records, run["interrupted"] = run_plan_in_workers(
                    plan, workers, progress, stop,
                    archive=None if archive is None else str(archive.path))
                recount(registry, records)  # the workers counted on their own registries
            else:
                for i, (op, variant, config, s) in enumerate(plan):
                    if progress:
                        progress(i, len(plan))
                    if stop.requested:
                        raise KeyboardInterrupt
                    records.append(run_case(
                        op, variant, config, s, divergences=registry,
                        tf_recorded=None if archive is None else archive.tf_result))
        except KeyboardInterrupt:
            run["interrupted"] = True
        if run["interrupted"] and signals.received():
            run["signal"] = signals.received()
        if run["interrupted"] and stop.spent and not stop.signalled:
            run["interrupted"], run["budget_spent"] = False, True
    return finish(records, run, registry, out_dir, run_name(run["command"]),
                  complete=not run["interrupted"] and not run.get("budget_spent")
                  and source_complete, started=started)


MERGE_KINDS = {"run": "run", "merge": "run", "replay": "replay"}
PLAN_KEYS = ("seed", "examples", "ops", "variants", "dtypes", "shapes", "reference", "baseline",
             "schema_version")


class MergeRefused(ReportError):
    """Reports that are not parts of one plan; one line (exit 2, like any unusable report)."""


def _plan_of(report: dict) -> dict:
    run = report["run"]
    plan = {k: sorted(v) if isinstance(v, list) else v for k, v in run.items()
            if k in PLAN_KEYS}
    plan["schema_version"] = run.get("upgraded_from", report["schema_version"])
    plan.setdefault("shapes", "small")  # absent: the small shapes
    return plan


def check_mergeable(reports: list[tuple[str, dict]]) -> None:
    """``MergeRefused`` unless every report is a run (or replay, or merge) of the same plan:
    the same kind, seed, examples, ops, variants, dtypes, reference archive or replayed
    baseline, and schema version. They may differ in shard and in environment (recorded per
    source)."""
    for path, r in reports:
        command = r["run"]["command"]
        if command not in MERGE_KINDS:
            raise MergeRefused(f"{path} is {'an' if command[0] in 'aeiou' else 'a'} {command} "
                               "report: merge joins run and replay reports only")
    first_path, first = reports[0]
    kind, plan = MERGE_KINDS[first["run"]["command"]], _plan_of(first)
    for path, r in reports[1:]:
        if MERGE_KINDS[r["run"]["command"]] != kind:
            raise MergeRefused(f"{path} is a {r['run']['command']} report, {first_path} a "
                               f"{first['run']['command']} report: not parts of one plan")
        other = _plan_of(r)
        for key in PLAN_KEYS:
            if key in plan and key in other and plan[key] != other[key]:
                raise MergeRefused(f"{path} and {first_path} differ in {key} ({other[key]!r} vs "
                                   f"{plan[key]!r}): merge joins shards or machines of one plan")


def merge_reports(reports: list[tuple[str, dict]], *, out_dir="reports"):
    """One report from several (shards, or runs on several machines) of one plan (see
    ``check_mergeable``): cases by id (the first copy of a duplicated id is kept), divergence
    counts recounted, complete only when every source is and, for shards, every shard of
    ``n`` is present. Each source's shard, completeness and environment differences from the
    first are recorded in ``run.source_details``. Returns (report, path)."""
    from parity.flows.regress import environment_differences

    check_mergeable(reports)
    records, seen = [], set()
    for _, report in reports:
        for case in report["cases"]:
            if case["id"] not in seen:
                seen.add(case["id"])
                records.append(case)
    shards = {r["run"].get("shard") for _, r in reports} - {None}
    complete = all(r["complete"] for _, r in reports)
    if shards:
        counts = {s.split("/")[1] for s in shards}
        complete = complete and len(counts) == 1 and \
            {int(s.split("/")[0]) for s in shards} == set(range(1, int(counts.pop()) + 1))
    first = reports[0][1]
    run = {k: v for k, v in first["run"].items() if k in PLAN_KEYS and k != "schema_version"}
    run.update(command="merge", sources=[str(p) for p, _ in reports],
               source_details=[{"path": str(p), "command": r["run"]["command"],
                                "shard": r["run"].get("shard"), "complete": r["complete"],
                                "cases": len(r["cases"]),
                                "environment_differences": environment_differences(
                                    first["environment"], r["environment"])}
                               for p, r in reports],
               interrupted=False)
    run.setdefault("ops", sorted({c["op"] for c in records}))  # the plan's, where it is known
    run.setdefault("seed", 0)
    run.setdefault("dtypes", [])
    registry = Registry.load()
    recount(registry, records)
    return finish(records, run, registry, out_dir, run_name("merge"), complete,
                  started=time.perf_counter(), env=first["environment"])
