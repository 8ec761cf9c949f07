"""``parity record``, ``parity run`` (also against a recorded archive, ``--reference``) and
``parity list``: their commands over ``parity.flows``."""
from __future__ import annotations

import sys

from parity.cli.common import (EXIT_DIVERGENCE, EXIT_OK, MAX_EXAMPLES, BadInput, _budget,
                               _choose_device, _describe, _dtypes, _examples, _names, _ops,
                               _out_dir, _plan_or_refuse, _print_summary, _progress,
                               _registry_checked, _require_frameworks, _seed, _shapes,
                               _variants, _workers)
from parity.core import signals
from parity.core.outputs import check_file
from parity.core.text import printable
from parity.spec import registry


def cmd_record(args) -> int:
    from parity.backends import environment
    from parity.flows.record import record
    from parity.flows.session import StopAtCaseBoundary
    from parity.spec.sweep import plan_cases

    out = check_file(args.out, "--out", create_parent=True)
    shapes = _shapes(args)
    ops = _ops(args.ops, shapes)
    variants = _variants(args.variants, ops)
    _choose_device(args)
    _require_frameworks()
    plan = _plan_or_refuse(plan_cases(ops, variants, _examples(args), _seed(args),
                                      _dtypes(args.dtypes), per_op_share=args.examples is None,
                                      shapes=shapes),
                           "no op has the variants asked")
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
    from parity.report.archive import Archive, ArchiveError
    from parity.backends import missing
    from parity.flows.session import reference_plan, run_reference

    given = [f for f, v in (("--seed", args.seed), ("--examples", args.examples),
                            ("--profile", args.profile)) if v is not None]
    if given:
        raise BadInput(f"{', '.join(given)} cannot be used with --reference: the archive fixes "
                       "the cases (select with --ops, --variants, --dtypes, --shard)")
    if missing(("torch",)):
        raise BadInput("cannot run cases: torch is not importable")
    if args.workers is not None:
        _workers(args.workers, MAX_EXAMPLES)  # the cores cap, before the archive is read
    try:
        ref = Archive(args.reference)
    except ArchiveError as e:
        raise BadInput(str(e)) from None
    held = ref.plan
    ops = _names(args.ops, "--ops") if args.ops is not None else None
    variants = _names(args.variants, "--variants") if args.variants is not None else None
    dtypes = _dtypes(args.dtypes) if args.dtypes else None
    for flag, asked, index in (("--ops", ops, 0), ("--variants", variants, 1)):
        have = {c[index] for c in held}
        lacking = [a for a in asked or [] if a not in have]
        if lacking:
            raise BadInput(f"{args.reference} holds no cases of {flag[2:]} {', '.join(lacking)}; "
                           f"it holds: {', '.join(sorted(have))}")
    have = {c[2].get("dtype") for c in held}
    if dtypes and not set(dtypes) & have:
        raise BadInput(f"{args.reference} holds no cases of dtype(s) {', '.join(dtypes)}; "
                       f"it holds: {', '.join(sorted(map(str, have)))}")
    shard = _shard(args.shard)
    plan = _plan_or_refuse(reference_plan(ref, ops, variants, dtypes, shard),
                           f"none of {args.reference}'s {len(held)} cases is selected")
    _registry_checked()
    if not ref.complete:
        print(f"note: {args.reference} is incomplete (its record was interrupted)",
              file=sys.stderr)
    report, path = run_reference(ref, plan, variants=variants, shard=shard, out_dir=args.out,
                                 progress=_progress, budget_s=_budget(args),
                                 workers=_workers(args.workers, len(plan)))
    return _conclude(report, path)


def _shard(text: str | None) -> tuple[int, int] | None:
    if text is None:
        return None
    i, _, n = text.partition("/")
    if not (i.isdigit() and n.isdigit() and 1 <= int(i) <= int(n)):
        raise BadInput(f"--shard must be i/n with 1 <= i <= n, got {text!r}")
    return int(i), int(n)
