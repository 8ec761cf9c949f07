"""A run as ``parity run`` makes it, as library functions over ``session``: the cases a
selection plans (``selected_run``), the cases of a recorded archive (``reference_run``), and a
child of ``parity matrix`` (``matrix_child``: one setting's run, or the TF record, in a process
of its own). Each checks what it is asked before any case runs (``BadInput``, one line)."""
from __future__ import annotations

from parity.core.errors import BadInput
from parity.flows import plan


def selected_run(ops: str | None = None, variants: str | None = None, dtypes=None,
                 examples: int | None = None, profile: str | None = None, seed: int = 0,
                 workers: int = 1, shard: tuple[int, int] | None = None,
                 budget_s: float | None = None, out="reports", progress=None):
    """(report, path) of every planned case of ``ops`` (comma-separated names, or None for
    all), as ``parity.api.run`` documents."""
    from parity.core.outputs import check_dir
    from parity.core.profiles import BUDGET_S, shapes_of
    from parity.flows.session import run_sweep, sweep_plan

    shapes = shapes_of(profile)
    chosen = plan.ops(ops, shapes)
    picked = plan.variants(variants, chosen)
    dtypes = plan.dtypes([dtypes] if isinstance(dtypes, str) else dtypes)
    count = plan.examples(examples, profile)
    plan.registry_checked()
    plan.require_frameworks()
    planned = sweep_plan(chosen, picked, count, seed, dtypes, examples is None, shard, shapes)
    plan.plan_or_refuse(planned[0], f"shard {shard[0]}/{shard[1]} of this plan is empty"
                        if shard else "no op has the variants asked")
    n = plan.workers(workers, len(planned[0]))
    return run_sweep(chosen, examples=count, seed=seed, dtypes=dtypes, variants=picked,
                     out_dir=check_dir(str(out)), progress=progress,
                     per_op_share=examples is None, workers=n, shard=shard, planned=planned,
                     shapes=shapes, budget_s=budget_s if budget_s is not None
                     else BUDGET_S.get(profile or "default"))


def reference_run(reference: str, ops: str | None = None, variants: str | None = None,
                  dtypes=None, shard: tuple[int, int] | None = None, out="reports",
                  progress=None, budget_s: float | None = None, workers: int | None = None):
    """(report, path, whether the archive is complete) of the cases of the record archive
    ``reference`` that ``ops``, ``variants``, ``dtypes`` and ``shard`` select (each must select
    something), torch judged against the stored TF results; TensorFlow is never imported."""
    from parity.backends import missing
    from parity.flows.session import reference_plan, run_reference
    from parity.report.archive import Archive, ArchiveError

    if missing(("torch",)):
        raise BadInput("cannot run cases: torch is not importable")
    if workers is not None:
        plan.workers(workers, plan.MAX_EXAMPLES)  # the cores cap, before the archive is read
    try:
        ref = Archive(reference)
    except ArchiveError as e:
        raise BadInput(str(e)) from None
    held = ref.plan
    ops = plan.names(ops, "--ops") if ops is not None else None
    variants = plan.names(variants, "--variants") if variants is not None else None
    dtypes = plan.dtypes(dtypes) if dtypes else None
    for flag, asked, index in (("--ops", ops, 0), ("--variants", variants, 1)):
        have = {c[index] for c in held}
        lacking = [a for a in asked or [] if a not in have]
        if lacking:
            raise BadInput(f"{reference} holds no cases of {flag[2:]} {', '.join(lacking)}; "
                           f"it holds: {', '.join(sorted(have))}")
    have = {c[2].get("dtype") for c in held}
    if dtypes and not set(dtypes) & have:
        raise BadInput(f"{reference} holds no cases of dtype(s) {', '.join(dtypes)}; "
                       f"it holds: {', '.join(sorted(map(str, have)))}")
    chosen = plan.plan_or_refuse(reference_plan(ref, ops, variants, dtypes, shard),
                                 f"none of {reference}'s {len(held)} cases is selected")
    plan.registry_checked()
    report, path = run_reference(ref, chosen, variants=variants, shard=shard, out_dir=out,
                                 progress=progress, budget_s=budget_s,
                                 workers=plan.workers(workers, len(chosen)))
    return report, path, ref.complete


def record_plan(ops: str | None = None, variants: str | None = None, dtypes=None,
                examples: int | None = None, profile: str | None = None,
                seed: int | None = None) -> tuple[list, str]:
    """(cases, shapes) ``parity record`` runs the TF side of, checked (``BadInput``)."""
    from parity.core.profiles import shapes_of
    from parity.spec.sweep import plan_cases

    shapes = shapes_of(profile)
    chosen = plan.ops(ops, shapes)
    cases = plan.plan_or_refuse(plan_cases(
        chosen, plan.variants(variants, chosen), plan.examples(examples, profile), seed or 0,
        plan.dtypes(dtypes), per_op_share=examples is None, shapes=shapes),
        "no op has the variants asked")
    return cases, shapes


def matrix_child(out: str, selection: dict, setting: dict | None = None,
                 reference: str | None = None, record: bool = False) -> int:
    """One child of ``parity matrix``, in a process of its own: with ``record``, the TF side of
    the ``selection`` ({ops, variants, dtypes, examples, profile, seed}) into the archive
    ``out``; else one run under the device ``setting`` ({device, tf32, deterministic}) with
    torch digests, against ``reference`` where given, its report in the directory ``out``.
    0, or 1 where a case is unexpected or the run incomplete."""
    from parity.backends import environment
    from parity.backends.device import choose, recording_digests
    from parity.flows.session import StopAtCaseBoundary
    from parity.report.build import unexpected

    if record:
        from parity.flows.record import record as record_tf

        cases, shapes = record_plan(**selection)
        plan.require_frameworks()
        with StopAtCaseBoundary() as stop:
            done = record_tf(cases, out, environment.collect(), stop=stop, shapes=shapes)
        return 0 if done else 1
    choose(**(setting or {}))
    with recording_digests(True):
        if reference is not None:
            report, _, _ = reference_run(reference, selection.get("ops"),
                                         selection.get("variants"), selection.get("dtypes"),
                                         out=out)
        else:
            report, _ = selected_run(
                selection.get("ops"), selection.get("variants"), selection.get("dtypes"),
                selection.get("examples"), selection.get("profile"),
                selection.get("seed") or 0, out=out)
    bad = any(unexpected(r) for r in report["cases"])
    return 1 if bad or not report["complete"] else 0
