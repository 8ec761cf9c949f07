"""``parity audit``: a user's torch implementation judged on generated cases.

1. Survey: exactly the planned configs (``--examples N``, duplicates dropped and said so),
   each judged output by TF or, where TF refuses or is known wrong, by the float64 reference.
2. Failure classes: failing cases grouped by signature (which outputs, shape / value /
   non-finite, the judge, or the exception or crash), largest first, each with its count.
3. For up to ``max_classes`` classes Hypothesis shrinks a minimal config that still fails the
   same way (crashes and timeouts are not shrunk: each try would cost a worker restart or the
   whole timeout; their smallest surveyed case is shown instead).

Candidates named ``package.module:function`` run in a worker process (``parity.exec.isolation``).

Example (needs both frameworks):
    >>> report, path = run_audit("conv2d_same", "parity.ports:conv2d_same", examples=5,
    ...                          seed=0, dtypes=["float32"], out_dir="/tmp")   # doctest: +SKIP
    >>> report["audit"]["verdict"]                                           # doctest: +SKIP
    'pass'
"""
from __future__ import annotations

import time
from collections import Counter

from hypothesis import given, seed as hypothesis_seed

from parity.spec import registry

from parity.core import signals
from parity.spec.divergences import Registry
from parity.exec.isolation import DEFAULT_MEMORY_GIB, DEFAULT_TIMEOUT_S, IsolatedSide
from parity.core.profiles import hypothesis_settings
from parity.exec.runner import NONFINITE, run_case
from parity.flows.session import StopAtCaseBoundary, finish, run_name
from parity.spec.sweep import _without_local_constants, case_strategy, draw_configs

MAX_CLASSES = 5
SHRINK_CALLS = 400
_FAILED = ("fail", "error")
_NOT_SHRUNK = ("candidate crashed",)


def signature(rec: dict) -> str:
    """How a case failed, coarse enough to group: outputs and kinds, or the exception."""
    if rec["status"] == "error":
        text = rec["error"] or "error"
        if text.startswith("candidate crashed: timed out"):
            return "candidate crashed: timed out"
        if text.startswith("candidate crashed: "):
            return text.split(" while ")[0]        # candidate crashed: the worker killed by ...
        return text.split(":")[0]                  # candidate raised ValueError, harness, ...
    from parity.core.tolerance import output_failed

    failed = [(n, m) for n, m in rec["outputs"].items() if output_failed(m)]
    if not failed:
        return rec["status"]
    name, m = failed[0]  # outputs in the op's order: y first, then the gradients
    kind = "shape" if not m.get("shape_match", True) else \
        "non-finite" if m.get("nonfinite_match") is False else "value"
    farther = {"tf": "TF farther from the reference", "torch": "candidate farther from the "
               "reference", "neither": "neither farther"}.get(m.get("farther"), "")
    return f"{name} {kind} mismatch ({farther})"


def _size(rec: dict) -> tuple:
    """Smaller configs first: total of the config's integers, then its text."""
    def total(v):
        if isinstance(v, bool):
            return 0
        if isinstance(v, (int, float)):
            return abs(v)
        if isinstance(v, (list, tuple)):
            return sum(total(i) for i in v)
        return 0
    return total(list(rec["config"].values())), str(rec["config"])


class _Found(Exception):
    pass


def _exclude(op, nonfinite: str):
    """A filter dropping configs with NaN/inf fills (``--nonfinite skip``), else None."""
    if nonfinite != "skip" or not op.nonfinite_fills:
        return None
    field, values = op.nonfinite_fills
    return lambda pair: getattr(pair[0], field) not in values


def _import_tf_while_the_server_preloads() -> None:
    """The candidate's worker is forked from a server that first imports the frameworks (about
    5 s on 2 cores): start it now and import TF here meanwhile, which the cases need anyway."""
    from parity.exec import forking
    from parity.backends import BackendUnavailable
    from parity.backends import tf as B

    forking.warm()
    try:
        B.tf()
    except BackendUnavailable:  # reported by the first case, as without a worker
        pass


def run_audit(op_name: str, candidate, candidate_name: str, *, examples: int, seed: int,
              dtypes, out_dir="reports", nonfinite: str = "tf", forward_only: bool = False,
              module: bool = False, case_timeout: float = DEFAULT_TIMEOUT_S,
              memory_gib: float | None = DEFAULT_MEMORY_GIB, max_classes: int = MAX_CLASSES,
              progress=None, shapes: str = "small"):
    """Survey, group, shrink; return (report, path). ``candidate``: ``"pkg.mod:fn"`` (run in a
    worker; ``CandidateUnusable`` if it cannot be loaded there) or a callable (this process)."""
    if nonfinite not in NONFINITE:
        raise ValueError(f"nonfinite must be one of {NONFINITE}, got {nonfinite!r}")
    op, divergences = registry.get(op_name), Registry.load()
    started = time.perf_counter()
    run = {"command": "audit", "seed": seed, "examples": examples, "ops": [op_name],
           "dtypes": list(dtypes), "interrupted": False,
           "nonfinite": nonfinite, "forward_only": forward_only,
           "isolated": isinstance(candidate, str)}
    if shapes != "small":
        run["shapes"] = shapes
    if isinstance(candidate, str):
        _import_tf_while_the_server_preloads()
        side = IsolatedSide(op_name, {"candidate": candidate, "module": module,
                                      "forward_only": forward_only},
                            timeout=case_timeout, memory_gib=memory_gib)
        side.start()
        torch_side = side
    else:
        from parity.exec.candidates import in_process_side

        side = None
        torch_side = in_process_side(op, candidate, module=module, forward_only=forward_only)
    exclude = _exclude(op, nonfinite)

    options = {k: v for k, v, default in (("nonfinite", nonfinite, "tf"),
                                          ("forward_only", forward_only, False),
                                          ("module", module, False)) if v != default}

    def case(config: dict, s: int) -> dict:
        return run_case(op_name, "audit", config, s, candidate_name=candidate_name,
                        divergences=divergences, torch_side=torch_side, nonfinite=nonfinite,
                        outputs=("y",) if forward_only else None, repro_options=options)

    records, classes = [], []
    try:
        with StopAtCaseBoundary() as stop:
            try:
                plan = draw_configs(op_name, examples, seed, dtypes, exclude=exclude,
                                    shapes=shapes)
                run["configs"] = len(plan)
                for i, (config, s) in enumerate(plan):
                    if progress:
                        progress(i, len(plan))
                    if stop.requested:
                        raise KeyboardInterrupt
                    records.append(case(config.to_dict(), s))
                classes = _classes(records)
                for c in classes[:max_classes]:
                    if stop.requested:
                        raise KeyboardInterrupt
                    if not c["signature"].startswith(_NOT_SHRUNK):
                        minimal = _shrink(op_name, c["signature"], case, examples, seed,
                                          dtypes, exclude, shapes)
                        if minimal is not None:
                            # a case already surveyed (or shrunk to by another class) is
                            # referred to, not stored twice: ids are unique in a report
                            if all(r["id"] != minimal["id"] for r in records):
                                minimal["minimal"] = True
                                records.append(minimal)
                            c["minimal_case"] = minimal["id"]
            except KeyboardInterrupt:
                run["interrupted"] = True
                if signals.received():
                    run["signal"] = signals.received()
    finally:
        if side is not None:
            run["worker_restarts"] = side.restarts
            side.close()
    audit = _verdict(op_name, candidate_name, records, classes)
    report, path = finish(records, run, divergences, out_dir, run_name("audit"), started=started,
                          complete=not run["interrupted"], audit=audit)
    return report, path


def _classes(records: list[dict]) -> list[dict]:
    failing = [r for r in records if r["status"] in _FAILED]
    groups: dict[str, list] = {}
    for r in failing:
        groups.setdefault(signature(r), []).append(r)
    out = []
    for sig, recs in sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        example = min(recs, key=_size)
        out.append({"signature": sig, "count": len(recs), "example_case": example["id"],
                    "minimal_case": None})
    return out


def _shrink(op_name, target: str, case, examples, seed, dtypes, exclude, shapes="small"):
    """A minimal config failing with ``target``'s signature (Hypothesis shrinks), or None."""
    found: dict = {}
    calls = [0]
    strategy = case_strategy(op_name, dtypes, shapes)
    if exclude is not None:
        strategy = strategy.filter(exclude)

    @hypothesis_settings(examples, shrink=True)
    @hypothesis_seed(seed)
    @given(strategy)
    def check(pair):
        config, s = pair
        key = (config.config_id(), s)
        calls[0] += 1
        if calls[0] > SHRINK_CALLS and key != found.get("key"):
            return  # out of budget: only the best one found still fails
        rec = found["rec"] if key == found.get("key") else case(config.to_dict(), s)
        if rec["status"] in _FAILED and signature(rec) == target:
            found.update(rec=rec, key=key)
            raise _Found

    try:
        with _without_local_constants():
            check()
    except _Found:
        pass
    except BaseExceptionGroup as group:  # a flaky candidate: take what was found
        if group.subgroup(_Found) is None:
            raise
    return found.get("rec")


def _verdict(op_name, candidate_name, records, classes) -> dict:
    """The audit block of the report: verdict, classes, judged outputs by judge."""
    judged, unjudged = Counter(), Counter()
    other_dtype = 0
    for r in records:
        if r.get("minimal"):
            continue
        for name, m in r["outputs"].items():
            judged[m.get("judge", "tf")] += 1
        for name in r.get("unjudged", []):
            unjudged[name] += 1
        if any(w.startswith("DtypeWarning") for w in r.get("warnings", {}).get("torch", [])):
            other_dtype += 1
    first = classes[0] if classes else None
    return {"op": op_name, "candidate": candidate_name,
            "verdict": "fail" if classes else "pass",
            "minimal_case": (first["minimal_case"] or first["example_case"]) if first else None,
            "message": first["signature"] if first else None,
            "classes": classes,
            "judged_outputs": {"tf": judged["tf"], "reference": judged["reference"]},
            "unjudged_outputs": dict(unjudged),
            "other_dtype_cases": other_dtype}


def class_lines(report: dict, head: str) -> list[str]:
    """A failing audit's text: each failure class with its minimal (or smallest) config, what
    failed, and a repro snippet."""
    from parity.flows.plan import describe
    from parity.core.text import printable

    by_id = {c["id"]: c for c in report["cases"]}
    classes = report["audit"]["classes"]
    lines = [f"{head}: FAIL; {sum(c['count'] for c in classes)} failing cases in "
             f"{len(classes)} class(es):"]
    for i, c in enumerate(classes, 1):
        shown = c["minimal_case"] or c["example_case"]
        rec = by_id[shown]
        how = "minimal config (shrunk by Hypothesis)" if c["minimal_case"] else \
            "smallest failing config surveyed (not shrunk)"
        lines.append(printable(f"[{i}] {c['signature']}: {c['count']} case(s); {how}:"))
        lines.append(printable(f"  {rec['config']}  seed={rec['seed']}"))
        lines += [f"  {line}" for line in describe(rec)]
        lines.append("  repro:")
        lines += [printable(f"    {line}") for line in rec["repro"].splitlines()]
    return lines
