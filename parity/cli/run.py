"""``parity record``, ``parity run`` (also against a recorded archive, ``--reference``) and
``parity list``: their commands over ``parity.flows``."""
from __future__ import annotations

import sys

from parity.cli.common import (EXIT_DIVERGENCE, EXIT_OK, MAX_EXAMPLES, BadInput, _budget,
                               _choose_device, _describe, _examples, _out_dir, _print_summary,
                               _progress, _require_frameworks, _seed, _workers)
from parity.core import signals
from parity.core.outputs import check_file
from parity.core.text import printable
from parity.spec import registry


def cmd_record(args) -> int:
    from parity.backends import environment
    from parity.flows.record import record
    from parity.flows.runs import record_plan
    from parity.flows.session import StopAtCaseBoundary

    out = check_file(args.out, "--out", create_parent=True)
    plan, shapes = record_plan(args.ops, args.variants, args.dtypes, args.examples,
                               args.profile, args.seed)
    _choose_device(args)
    _require_frameworks()
    out.parent.mkdir(parents=True, exist_ok=True)
    env = environment.collect()
    with StopAtCaseBoundary() as stop:
        try:
            complete = record(plan, out, env, progress=_progress, stop=stop, shapes=shapes)
        except OSError as e:
            from parity.report import WriteFailed
            raise WriteFailed(f"cannot write archive {out}: {e.strerror or e}; "
                              "an earlier file there is untouched") from None
    if not complete:
        print(f"interrupted: {out} holds the cases recorded so far (complete: false)")
        return signals.exit_code()
    print(f"recorded the TF side of {len(plan)} cases: {out}")
    return EXIT_OK


def cmd_run(args) -> int:
    from parity.backends.device import recording_digests

    _out_dir(args)
    _choose_device(args)
    with recording_digests(args.digests):
        return _run_or_reference(args)


def _run_or_reference(args) -> int:
    from parity.api import run

    if args.reference:
        return _run_reference(args)
    if args.workers is not None:
        _workers(args.workers, MAX_EXAMPLES)  # the cores cap, before planning
    examples = _examples(args)
    report = run(args.ops, variants=args.variants, dtypes=args.dtypes, examples=args.examples, profile=args.profile, seed=_seed(args),
                 workers=args.workers or 1, shard=_shard(args.shard), budget_s=_budget(args),
                 out=args.out, progress=_progress)
    for op, n in report.data["run"].get("configs", {}).items():
        asked = examples if args.examples else registry.get(op).examples(examples)
        if n < asked:
            print(f"{op}: {n} configs of {asked} asked (Hypothesis drew {asked - n} duplicate(s), "
                  "dropped)")
    return _conclude(report.data, report.path)


def _conclude(report: dict, path, incomplete: str = "the archive's record was interrupted") -> int:
    """Print the summary and the first unexpected cases; the exit code of a run, replay or
    merge (1 for a report that is incomplete without an interruption, saying why)."""
    from parity.report.build import unexpected

    _print_summary(report)
    bad = [r for r in report["cases"] if unexpected(r)]
    for r in bad[:10]:
        print("\n".join(_describe(r)))
    print(printable(f"{len(report['cases'])} cases, {len(bad)} unexpected; report: {path}"))
    if report["run"]["interrupted"]:
        print("interrupted: the report holds the cases finished so far (complete: false)")
        return signals.exit_code()
    if report["run"].get("budget_spent"):
        print(f"budget: {report['run']['budget_s']:g} s spent; the report holds the cases "
              "finished by then (complete: false; --budget sets it)")
        return EXIT_DIVERGENCE if bad else EXIT_OK
    if not report["complete"]:
        print(f"incomplete: {incomplete}")
        return EXIT_DIVERGENCE
    return EXIT_DIVERGENCE if bad else EXIT_OK


def _run_reference(args) -> int:
    """``run --reference``: the archive fixes the plan; ``--ops``, ``--variants``, ``--dtypes``
    and ``--shard`` select from it, each of them must select something; the flags that make a
    plan (``--seed``, ``--examples``, ``--profile``) are refused; ``--workers`` splits it."""
    from parity.flows.runs import reference_run

    given = [f for f, v in (("--seed", args.seed), ("--examples", args.examples),
                            ("--profile", args.profile)) if v is not None]
    if given:
        raise BadInput(f"{', '.join(given)} cannot be used with --reference: the archive fixes "
                       "the cases (select with --ops, --variants, --dtypes, --shard)")
    report, path, complete = reference_run(
        args.reference, args.ops, args.variants, args.dtypes, _shard(args.shard), args.out,
        _progress, _budget(args), args.workers)
    if not complete:
        print(f"note: {args.reference} is incomplete (its record was interrupted)",
              file=sys.stderr)
    return _conclude(report, path)


def _shard(text: str | None) -> tuple[int, int] | None:
    if text is None:
        return None
    i, _, n = text.partition("/")
    if not (i.isdigit() and n.isdigit() and 1 <= int(i) <= int(n)):
        raise BadInput(f"--shard must be i/n with 1 <= i <= n, got {text!r}")
    return int(i), int(n)
