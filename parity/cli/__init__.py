"""``python -m parity`` / ``parity``: list | run | audit | replay | compare | html | merge |
record | model.

Exit codes: 0 every case as expected; 1 an unexpected divergence (a ``fail``,
an ``error``, or a rejection no registry entry explains) or a failing audit;
2 bad input (unknown op or variant, a plan with no cases, bad flag, unimportable
candidate, bad registry, report or archive, an output that cannot be written),
checked before any case runs; 3 results that could not be written after all
(a full disk: what was kept is said); 130 interrupted by Ctrl-C or SIGTERM, 129 by
SIGHUP (the partial report is still written). Every error is one line on stderr.
"""
from __future__ import annotations

import argparse
import contextlib
import functools
import os
import sys
from pathlib import Path

from parity.spec import registry

from parity.core import signals
from parity.core.tolerance import describe_failure, output_failed
from parity.core.config import ConfigError
from parity.spec.divergences import RegistryError
from parity.core.numerics import DTYPES
from parity.core.profiles import EXAMPLES
from parity.core.outputs import OutputError, check_dir, check_file
from parity.report import ReportError, WriteFailed
from parity.core.text import printable

EXIT_OK, EXIT_DIVERGENCE, EXIT_BAD_INPUT, EXIT_NOT_WRITTEN = 0, 1, 2, 3
EXIT_INTERRUPTED = signals.EXIT_INTERRUPTED
EXIT_CLOSED_PIPE = 141  # as a shell reports a command its SIGPIPE ended
MAX_EXAMPLES = 100_000
"""The most configs ``--examples`` may ask per op (``explore`` draws 5,000)."""


class BadInput(ValueError):
    """Reported as one line, exit 2 (the Python API raises it as a ValueError)."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2, like every other bad input
        raise BadInput(f"{self.prog}: {message}")


def _csv(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def _names(text: str, flag: str) -> list[str]:
    """A comma list that names something, each once."""
    chosen = _csv(text)
    if not chosen:
        raise BadInput(f"{flag} {text!r} names nothing; leave {flag} out for all")
    return _once(chosen, flag)


def _once(chosen: list[str], flag: str) -> list[str]:
    twice = sorted({n for n in chosen if chosen.count(n) > 1})
    if twice:
        raise BadInput(f"{flag} names {', '.join(twice)} more than once")
    return chosen


def _ops(text: str | None, shapes: str = "small") -> list[str]:
    """The ``--ops`` asked (default: all, or with realistic shapes all that have them)."""
    from parity.spec.sweep import NoRealisticShapes, realistic_ops

    if text is None:
        return realistic_ops() if shapes == "realistic" else registry.names()
    chosen = _names(text, "--ops")
    for name in chosen:
        registry.get(name)  # raises UnknownOp listing the known ops
    lacking = [n for n in chosen if shapes == "realistic" and registry.get(n).realistic is None]
    if lacking:
        raise NoRealisticShapes(f"{', '.join(lacking)} {'has' if len(lacking) == 1 else 'have'} "
                                f"no realistic shapes; ops that have: "
                                f"{', '.join(realistic_ops())}")
    return chosen


def _shapes(args) -> str:
    from parity.core.profiles import shapes_of

    return shapes_of(args.profile)


def _budget(args) -> float | None:
    """``--budget`` seconds, else the profile's default (none for most)."""
    from parity.core.profiles import BUDGET_S

    if args.budget is not None:
        if not args.budget > 0:
            raise BadInput(f"--budget must be a positive number of seconds, got {args.budget:g}")
        return args.budget
    return None if getattr(args, "reference", None) else BUDGET_S.get(args.profile or "default")


def _variants(text: str | None, ops: list[str]) -> list[str]:
    """The ``--variants`` asked; each must be a variant of at least one of ``ops``."""
    if text is None:
        return []
    chosen = _names(text, "--variants")
    known = {v for op in ops for v in registry.get(op).variants}
    unknown = [v for v in chosen if v not in known]
    if unknown:
        which = ", ".join(ops) if len(ops) < 4 else "these ops"
        raise BadInput(f"unknown variant(s) {', '.join(unknown)} for {which}; "
                       f"known: {', '.join(sorted(known))}")
    return chosen


def _dtypes(values: list[str] | None) -> list[str]:
    chosen = [d for v in values or [] for d in _csv(v)] or list(DTYPES)
    bad = [d for d in chosen if d not in DTYPES]
    if bad:
        raise BadInput(f"unknown dtype(s) {', '.join(bad)}; known: {', '.join(DTYPES)}")
    return _once(chosen, "--dtypes")


def _examples(args) -> int:
    if args.examples is not None:
        if not 1 <= args.examples <= MAX_EXAMPLES:
            raise BadInput(f"--examples must be between 1 and {MAX_EXAMPLES:,}, got "
                           f"{args.examples:,}")
        return args.examples
    return EXAMPLES[args.profile or "default"]


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def _workers(requested: int | None, cases: int) -> int:
    """``--workers``: at least 1, at most this machine's cores and one per case (each worker
    imports both frameworks first: more of them only wait)."""
    n = 1 if requested is None else requested
    if n < 1:
        raise BadInput("--workers must be at least 1")
    if n > 1 and n > _cores():
        raise BadInput(f"--workers {n} is more than this machine's {_cores()} cores")
    if n > 1 and n > cases:
        raise BadInput(f"--workers {n} for {cases} cases: at most one worker per case")
    return n


def _seed(args) -> int:
    return 0 if args.seed is None else args.seed


def _out_dir(args):
    return check_dir(args.out)


def _registry_checked() -> None:
    """The divergence registry, loaded and checked whole before any case runs."""
    from parity.spec.divergences import Registry

    Registry.load()


def _plan_or_refuse(cases: list, what: str) -> list:
    if not cases:
        raise BadInput(f"the plan has no cases ({what})")
    return cases


def load_candidate(spec: str):
    """``pkg.module:function`` -> the callable, or ``BadInput`` saying why not (in this
    process: audits load the candidate in their worker instead)."""
    from parity.exec.candidates import CandidateError, load

    try:
        return load(spec)
    except CandidateError as e:
        raise BadInput(str(e)) from None


def cmd_list(args) -> int:
    for name in registry.names():
        op = registry.get(name)
        print(f"{name}  [{op.family}] {op.description}")
        print(f"    outputs: {', '.join(op.outputs)}")
        for v in op.variants.values():
            print(f"    {v.name:<{max(8, max(map(len, op.variants)))}} {v.description}")
        if args.verbose:
            print(f"    audit candidate: {op.candidate_doc}")
    return EXIT_OK


def _print_summary(report: dict) -> None:
    width = max([9] + [len(s["variant"]) + 1 for s in report["summary"]])
    print(f"{'op':<24}{'variant':<{width}}{'cases':>6}  {'worst diff':>10}  {'worst ratio':>11}  statuses")
    for s in report["summary"]:
        diff = f"{s['worst_max_abs_diff']:.3g}" if s["worst_max_abs_diff"] is not None else "-"
        ratio = f"{s['worst_bound_ratio']:.3g}" if s["worst_bound_ratio"] is not None else "-"
        counts = ", ".join(f"{k} {v}" for k, v in s["counts"].items())
        if s["farther_from_reference"]:
            counts += " (farther from float64: " + ", ".join(
                f"{k} {v}" for k, v in s["farther_from_reference"].items()) + ")"
        print(printable(f"{s['op']:<24}{s['variant']:<{width}}{s['cases']:>6}  {diff:>10}  "
                        f"{ratio:>11}  {counts}"))
    for d in report["divergences"]:
        if d["not_reproduced"]:
            print(printable(f"divergence {d['id']}: scope exercised {d['exercised']}x, "
                            "never reproduced"))


def _describe(record: dict) -> list[str]:
    lines = [f"{record['op']} case {record['id']} ({record['variant']}): {record['status']}"]
    if record["error"]:
        lines.append(f"  {record['error']}")
    lines += [f"  {describe_failure(record['op'], record['id'], n, m)}"
              for n, m in record["outputs"].items() if output_failed(m)]
    return [printable(line) for line in lines]  # a report's text, never a terminal's commands


_SHOWN: dict = {}


def _progress(done: int, total: int) -> None:
    """Progress on stderr: the plan, then every tenth of it (each line once, however often
    it is asked: parallel runs poll)."""
    step = max(total // 10, 1)
    bucket = (total, done // step)
    if _SHOWN.get("last") == bucket:
        return
    _SHOWN["last"] = bucket
    if done == 0:
        print(f"parity: running {total} cases", file=sys.stderr, flush=True)
    else:
        print(f"parity: {done // step * step}/{total}", file=sys.stderr, flush=True)


def _require_frameworks() -> None:
    from parity.backends import missing

    gone = missing()
    if gone:
        raise BadInput(f"cannot run cases: {', '.join(gone)} not importable "
                       "(make venv installs the pinned environment)")


def _choose_device(args) -> None:
    from parity.backends.device import DeviceUnavailable, choose

    try:
        choose(args.device, args.tf32, args.deterministic)
    except DeviceUnavailable as e:
        raise BadInput(str(e)) from None


def _device_flags(parser) -> None:
    from parity.backends.device import DEVICES, TF32

    parser.add_argument("--device", choices=sorted(DEVICES), default="cpu",
                        help="where torch runs (TF uses its GPU when it has one)")
    parser.add_argument("--tf32", choices=TF32, default="default",
                        help="TF32 for convolutions and matmul, both frameworks")
    parser.add_argument("--deterministic", action="store_true",
                        help="deterministic algorithms in both frameworks")


def cmd_record(args) -> int:
    from parity.report import archive
    from parity.backends import environment
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
            complete = archive.record(plan, out, env, progress=_progress, stop=stop,
                                      shapes=shapes)
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


def cmd_merge(args) -> int:
    from parity.report import load_report
    from parity.flows.session import merge_reports

    _out_dir(args)
    reports = [(p, load_report(p)) for p in args.reports]
    _registry_checked()
    report, path = merge_reports(reports, out_dir=args.out)  # MergeRefused before it writes
    return _conclude(report, path, "a source was interrupted or a shard is missing")


def cmd_replay(args) -> int:
    from parity.report import load_report
    from parity.flows.session import run_replay

    _out_dir(args)
    baseline = load_report(args.baseline)
    _plan_or_refuse(baseline["cases"], f"{args.baseline} holds none")
    _choose_device(args)
    _registry_checked()
    _require_frameworks()
    report, path = run_replay(baseline, args.baseline, out_dir=args.out, progress=_progress)
    return _conclude(report, path)


def cmd_compare(args) -> int:
    from parity.api import compare

    changes = compare(args.baseline, args.current, fail_on=args.fail_on)
    print(changes.text)
    return EXIT_DIVERGENCE if changes.regressed else EXIT_OK


def cmd_html(args) -> int:
    from parity.report.html import write_html
    from parity.report.stream import open_report

    out = args.output or str(Path(args.report).with_suffix(".html"))
    check_file(out, "-o", inputs=[args.report])
    report = open_report(args.report)   # its cases read one at a time
    print(f"wrote {write_html(report.head, out, report.cases(), report.check_whole)}")
    return EXIT_OK


def cmd_audit(args) -> int:
    from parity.cli.audit import audit

    _out_dir(args)
    registry.get(args.op)
    args.seed = _seed(args)
    examples = _examples(args)
    _dtypes(args.dtypes)
    _choose_device(args)
    return audit(args, examples, _progress)


def _cmd_matrix(args) -> int:
    from parity.cli.matrix import cmd_matrix

    return cmd_matrix(args)


def _cmd_model(args) -> int:
    from parity.cli.model import cmd_model

    _out_dir(args)
    _require_frameworks()
    return cmd_model(args)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="parity", description="TensorFlow vs PyTorch numerical parity harness")
    p.add_argument("--version", action="version", version=f"parity {_version()}")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    ls = sub.add_parser("list", help="op pairs, variants, what each compares")
    ls.add_argument("--verbose", "-v", action="store_true", help="also the audit calling convention")
    for name, help_ in (("run", "run the sweep"), ("audit", "audit a torch callable against TF")):
        s = sub.add_parser(name, help=help_)
        if name == "audit":
            from parity.cli.audit import add_arguments
            add_arguments(s)
        else:
            s.add_argument("--ops", help="comma-separated op names (default: all)")
            s.add_argument("--variants", help="comma-separated variants (default: all)")
            s.add_argument("--workers", type=int,
                           help="worker processes (forked from one server that imports the "
                                "frameworks), at most one per core and per case (default 1: in "
                                "this process)")
            s.add_argument("--shard", help="i/n: run only shard i of n (split by case id)")
            s.add_argument("--reference", help="a record archive: judge torch against its TF "
                           "results, TensorFlow never imported")
            s.add_argument("--digests", action="store_true",
                           help="record a hash of each torch output (torch_digest): two runs "
                                "can then be compared bitwise")
            s.add_argument("--budget", type=float,
                           help="seconds: stop at the first case boundary after them, the "
                                "report holding the cases finished (default: the profile's, "
                                "540 for realistic, else none)")
        s.add_argument("--examples", type=int, help="configs drawn per op, every op alike, "
                       f"at most {MAX_EXAMPLES:,} (overrides --profile, whose counts slow ops "
                       "scale down)")
        s.add_argument("--profile", choices=sorted(EXAMPLES),
                       help="default: default; realistic: layer shapes of real networks "
                            "(the ops that have them)")
        s.add_argument("--seed", type=int, help="default 0")
        s.add_argument("--dtypes", action="append", help=f"comma-separated, from {', '.join(DTYPES)}")
        s.add_argument("--out", default="reports", help="report directory (default: reports)")
        _device_flags(s)
    rp = sub.add_parser("replay", help="re-run the cases of an earlier report, matched by id")
    rp.add_argument("baseline", help="a report JSON written by parity run or replay")
    rp.add_argument("--out", default="reports", help="report directory (default: reports)")
    _device_flags(rp)
    rc = sub.add_parser("record", help="store the TF side of planned cases in an archive")
    rc.add_argument("--out", required=True, help="archive file to write (.npz)")
    rc.add_argument("--ops", help="comma-separated op names (default: all)")
    rc.add_argument("--variants", help="comma-separated variants (default: all)")
    rc.add_argument("--examples", type=int, help="configs drawn per op, every op alike, "
                    f"at most {MAX_EXAMPLES:,}")
    rc.add_argument("--profile", choices=sorted(EXAMPLES),
                    help="default: default; realistic: layer shapes of real networks (the ops "
                         "that have them)")
    rc.add_argument("--seed", type=int, help="default 0")
    rc.add_argument("--dtypes", action="append", help=f"comma-separated, from {', '.join(DTYPES)}")
    _device_flags(rc)
    xp = sub.add_parser("matrix", help="one plan under each device setting, run twice, as an "
                        "op x setting matrix")
    from parity.cli.matrix import add_arguments as matrix_arguments
    matrix_arguments(xp)
    mp = sub.add_parser("merge", help="one report from shard or machine reports")
    mp.add_argument("reports", nargs="+")
    mp.add_argument("--out", default="reports", help="report directory (default: reports)")
    hp = sub.add_parser("html", help="the self-contained HTML page of a report")
    hp.add_argument("report")
    hp.add_argument("-o", "--output", help="HTML file (default: the report's name, .html)")
    mo = sub.add_parser("model", help="a Keras model vs a torch module, layer by layer")
    from parity.cli.model import add_arguments as model_arguments
    model_arguments(mo)
    cp = sub.add_parser("compare", help="what changed between two reports (exit 1: regressed)")
    cp.add_argument("baseline")
    cp.add_argument("current")
    from parity.flows.regress import DEFAULT_FAIL_ON
    cp.add_argument("--fail-on", default=DEFAULT_FAIL_ON,
                    help=f"growth thresholds and flags (default: {DEFAULT_FAIL_ON}; "
                         "add not_reproduced to fail when a registered divergence went away)")
    for name, command in sub.choices.items():
        if name not in ("list", "record"):
            command.add_argument("--divergences", action="append", metavar="FILE",
                                 help="a registry of your own known divergences (TOML, as "
                                      "parity/spec/divergences.toml): adds to the shipped one; "
                                      "repeatable; also PARITY_DIVERGENCES")
    return p


@functools.cache
def _version() -> str:
    """The installed distribution's version, else the package's (looked up once)."""
    from importlib import metadata

    try:
        return metadata.version("parity")
    except metadata.PackageNotFoundError:
        from parity import __version__

        return __version__


@contextlib.contextmanager
def _user_registries(files: list[str] | None):
    """``--divergences``: the files join ``PARITY_DIVERGENCES`` (as absolute paths, which
    workers inherit) while the command runs, and are checked before anything else."""
    from parity.spec.divergences import USER_ENV, Registry

    if not files:
        yield
        return
    from unittest import mock

    joined = os.pathsep.join([*filter(None, [os.environ.get(USER_ENV)]),
                              *(os.path.abspath(f) for f in files)])
    with mock.patch.dict(os.environ, {USER_ENV: joined}):  # restored on the way out
        Registry.load()
        yield


def main(argv=None) -> int:
    signals.forget()
    with _sigterm_interrupts():
        try:
            args = build_parser().parse_args(argv)
            with _user_registries(getattr(args, "divergences", None)):
                return _dispatch(args)
        except (BadInput, registry.UnknownOp, ConfigError, RegistryError, ReportError,
                OutputError) as e:
            print(f"parity: error: {printable(str(e))}", file=sys.stderr)
            return EXIT_BAD_INPUT
        except WriteFailed as e:
            print(f"parity: error: {printable(str(e))}", file=sys.stderr)
            return EXIT_NOT_WRITTEN
        except KeyboardInterrupt:
            print("parity: interrupted", file=sys.stderr)
            return signals.exit_code()
        except BrokenPipeError:  # ``parity list | head``: the reader left; nothing to say
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return EXIT_CLOSED_PIPE


def _dispatch(args) -> int:
    return {"list": cmd_list, "run": cmd_run, "audit": cmd_audit, "replay": cmd_replay,
            "compare": cmd_compare, "html": cmd_html, "merge": cmd_merge, "record": cmd_record,
            "matrix": _cmd_matrix, "model": _cmd_model}[args.command](args)


@contextlib.contextmanager
def _sigterm_interrupts():
    """SIGTERM and SIGHUP are Ctrl-C for the whole command (exit 130, 129 for SIGHUP; one
    line), not a silent death (143, 129 with nothing written); while cases run, the session
    defers them to the next case boundary instead."""
    def interrupt(signum, frame):
        signals.note(signum)
        raise KeyboardInterrupt
    previous = signals.install(interrupt)
    try:
        yield
    finally:
        signals.restore(previous)


if __name__ == "__main__":
    sys.exit(main())
