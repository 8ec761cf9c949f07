"""``python -m parity`` / ``parity``: list | run | audit | replay | compare | html.

Exit codes: 0 every case as expected; 1 an unexpected divergence (a ``fail``,
an ``error``, or a rejection no registry entry explains) or a failing audit;
2 bad input (unknown op or variant, bad flag, unimportable candidate, bad
registry); 130 interrupted (the partial report is still written).
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from parity import registry
from parity.compare import describe_failure, output_failed
from parity.config import ConfigError
from parity.divergences import RegistryError
from parity.numerics import DTYPES
from parity.profiles import EXAMPLES
from parity.report import ReportError

EXIT_OK, EXIT_DIVERGENCE, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130


class BadInput(Exception):
    """Reported as one line, exit 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2, like every other bad input
        raise BadInput(f"{self.prog}: {message}")


def _csv(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def _ops(text: str | None) -> list[str]:
    names = registry.names()
    if not text:
        return names
    chosen = _csv(text)
    for name in chosen:
        registry.get(name)  # raises UnknownOp listing the known ops
    return chosen


def _dtypes(values: list[str] | None) -> list[str]:
    chosen = [d for v in values or [] for d in _csv(v)] or list(DTYPES)
    bad = [d for d in chosen if d not in DTYPES]
    if bad:
        raise BadInput(f"unknown dtype(s) {', '.join(bad)}; known: {', '.join(DTYPES)}")
    return chosen


def _examples(args) -> int:
    if args.examples is not None:
        if args.examples < 1:
            raise BadInput("--examples must be at least 1")
        return args.examples
    return EXAMPLES[args.profile]


def load_candidate(spec: str):
    """``pkg.module:function`` -> the callable, or ``BadInput`` saying why not (in this
    process: audits load the candidate in their worker instead)."""
    from parity.candidates import CandidateError, load

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
        print(f"{s['op']:<24}{s['variant']:<{width}}{s['cases']:>6}  {diff:>10}  {ratio:>11}  {counts}")
    for d in report["divergences"]:
        if d["not_reproduced"]:
            print(f"divergence {d['id']}: scope exercised {d['exercised']}x, never reproduced")


def _describe(record: dict) -> list[str]:
    lines = [f"{record['op']} case {record['id']} ({record['variant']}): {record['status']}"]
    if record["error"]:
        lines.append(f"  {record['error']}")
    lines += [f"  {describe_failure(record['op'], record['id'], n, m)}"
              for n, m in record["outputs"].items() if output_failed(m)]
    return lines


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
    from parity.device import DeviceUnavailable, choose

    try:
        choose(args.device, args.tf32, args.deterministic)
    except DeviceUnavailable as e:
        raise BadInput(str(e)) from None


def _device_flags(parser) -> None:
    from parity.device import DEVICES, TF32

    parser.add_argument("--device", choices=sorted(DEVICES), default="cpu",
                        help="where torch runs (TF uses its GPU when it has one)")
    parser.add_argument("--tf32", choices=TF32, default="default",
                        help="TF32 for convolutions and matmul, both frameworks")
    parser.add_argument("--deterministic", action="store_true",
                        help="deterministic algorithms in both frameworks")


def cmd_record(args) -> int:
    from parity import archive, environment
    from parity.sweep import plan_cases

    _choose_device(args)
    _require_frameworks()
    plan = plan_cases(_ops(args.ops), _csv(args.variants or ""), _examples(args), args.seed,
                      _dtypes(args.dtypes), per_op_share=args.examples is None)
    env = environment.collect()
    path = archive.record(plan, args.out, env, progress=_progress)
    print(f"recorded the TF side of {len(plan)} cases: {path}")
    return EXIT_OK


def cmd_run(args) -> int:
    from parity.session import run_sweep

    _choose_device(args)
    if args.reference:
        return _run_reference(args)
    _require_frameworks()
    if args.workers < 1:
        raise BadInput("--workers must be at least 1")
    report, path = run_sweep(_ops(args.ops), examples=_examples(args), seed=args.seed,
                             dtypes=_dtypes(args.dtypes), variants=_csv(args.variants or ""),
                             out_dir=args.out, progress=_progress,
                             per_op_share=args.examples is None, workers=args.workers,
                             shard=_shard(args.shard))
    for op, n in report["run"].get("configs", {}).items():
        asked = _examples(args) if args.examples else registry.get(op).examples(_examples(args))
        if n < asked:
            print(f"{op}: {n} configs of {asked} asked (Hypothesis drew {asked - n} duplicate(s), "
                  "dropped)")
    return _conclude(report, path)


def _conclude(report: dict, path) -> int:
    """Print the summary and the first unexpected cases; the exit code of a run or replay."""
    from parity.report.build import unexpected

    _print_summary(report)
    bad = [r for r in report["cases"] if unexpected(r)]
    for r in bad[:10]:
        print("\n".join(_describe(r)))
    print(f"{len(report['cases'])} cases, {len(bad)} unexpected; report: {path}")
    if report["run"]["interrupted"]:
        print("interrupted: the report holds the cases finished so far (complete: false)")
        return EXIT_INTERRUPTED
    return EXIT_DIVERGENCE if bad else EXIT_OK


def _run_reference(args) -> int:
    from parity.archive import Archive, ArchiveError
    from parity.backends import missing
    from parity.session import run_reference

    if missing(("torch",)):
        raise BadInput("cannot run cases: torch is not importable")
    try:
        ref = Archive(args.reference)
    except ArchiveError as e:
        raise BadInput(str(e)) from None
    report, path = run_reference(ref, ops=_csv(args.ops or ""), out_dir=args.out,
                                 progress=_progress)
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
    from parity.session import merge_reports

    report, path = merge_reports([(p, load_report(p)) for p in args.reports], out_dir=args.out)
    code = _conclude(report, path)
    if not report["complete"] and code == EXIT_OK:
        print("incomplete: a source was interrupted or a shard is missing")
        return EXIT_DIVERGENCE
    return code


def cmd_replay(args) -> int:
    from parity.report import load_report
    from parity.session import run_replay

    baseline = load_report(args.baseline)
    _choose_device(args)
    _require_frameworks()
    report, path = run_replay(baseline, args.baseline, out_dir=args.out, progress=_progress)
    return _conclude(report, path)


def cmd_compare(args) -> int:
    from parity import regress
    from parity.report import load_report

    try:
        fail_on = regress.parse_fail_on(args.fail_on)
    except regress.BadThreshold as e:
        raise BadInput(str(e)) from None
    baseline, current = load_report(args.baseline), load_report(args.current)
    cmp = regress.compare_reports(baseline, current, fail_on)
    print(regress.render(cmp, args.baseline, args.current))
    return EXIT_DIVERGENCE if cmp.regressions else EXIT_OK


def cmd_html(args) -> int:
    from parity.report import load_report
    from parity.report.html import write_html

    out = args.output or str(Path(args.report).with_suffix(".html"))
    print(f"wrote {write_html(load_report(args.report), out)}")
    return EXIT_OK


def cmd_audit(args) -> int:
    from parity.cli_audit import audit

    registry.get(args.op)
    _choose_device(args)
    _require_frameworks()
    return audit(args, _examples(args), _dtypes(args.dtypes), _progress)


def _cmd_model(args) -> int:
    from parity.cli_model import cmd_model

    _require_frameworks()
    return cmd_model(args)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="parity", description="TensorFlow vs PyTorch numerical parity harness")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    ls = sub.add_parser("list", help="op pairs, variants, what each compares")
    ls.add_argument("--verbose", "-v", action="store_true", help="also the audit calling convention")
    for name, help_ in (("run", "run the sweep"), ("audit", "audit a torch callable against TF")):
        s = sub.add_parser(name, help=help_)
        if name == "audit":
            from parity.cli_audit import add_arguments
            add_arguments(s)
        else:
            s.add_argument("--ops", help="comma-separated op names (default: all)")
            s.add_argument("--variants", help="comma-separated variants (default: all)")
            s.add_argument("--workers", type=int, default=1,
                           help="pytest-xdist worker processes (default 1: in this process)")
            s.add_argument("--shard", help="i/n: run only shard i of n (split by case id)")
            s.add_argument("--reference", help="a record archive: judge torch against its TF "
                           "results, TensorFlow never imported")
        s.add_argument("--examples", type=int, help="configs drawn per op, every op alike "
                       "(overrides --profile, whose counts slow ops scale down)")
        s.add_argument("--profile", choices=sorted(EXAMPLES), default="default")
        s.add_argument("--seed", type=int, default=0)
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
    rc.add_argument("--examples", type=int, help="configs drawn per op, every op alike")
    rc.add_argument("--profile", choices=sorted(EXAMPLES), default="default")
    rc.add_argument("--seed", type=int, default=0)
    rc.add_argument("--dtypes", action="append", help=f"comma-separated, from {', '.join(DTYPES)}")
    _device_flags(rc)
    mp = sub.add_parser("merge", help="one report from shard or machine reports")
    mp.add_argument("reports", nargs="+")
    mp.add_argument("--out", default="reports", help="report directory (default: reports)")
    hp = sub.add_parser("html", help="the self-contained HTML page of a report")
    hp.add_argument("report")
    hp.add_argument("-o", "--output", help="HTML file (default: the report's name, .html)")
    mo = sub.add_parser("model", help="a Keras model vs a torch module, layer by layer")
    from parity.cli_model import add_arguments as model_arguments
    model_arguments(mo)
    cp = sub.add_parser("compare", help="what changed between two reports (exit 1: regressed)")
    cp.add_argument("baseline")
    cp.add_argument("current")
    from parity.regress import DEFAULT_FAIL_ON
    cp.add_argument("--fail-on", default=DEFAULT_FAIL_ON,
                    help=f"growth thresholds and flags (default: {DEFAULT_FAIL_ON}; "
                         "add not_reproduced to fail when a registered divergence went away)")
    return p


def main(argv=None) -> int:
    try:
        args = build_parser().parse_args(argv)
        return {"list": cmd_list, "run": cmd_run, "audit": cmd_audit,
                "replay": cmd_replay, "compare": cmd_compare, "html": cmd_html,
                "merge": cmd_merge, "record": cmd_record, "model": _cmd_model}[args.command](args)
    except (BadInput, registry.UnknownOp, ConfigError, RegistryError, ReportError) as e:
        print(f"parity: error: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("parity: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
