"""``parity matrix``: its arguments and command (``parity.flows.matrix`` does the work)."""
from __future__ import annotations

import sys
from pathlib import Path


def add_arguments(p) -> None:
    from parity.flows.matrix import SETTINGS
    from parity.core.profiles import EXAMPLES

    p.add_argument("--reference", help="a record archive of TF's side (default: record one "
                   "first, in OUT/tf.npz; needs TensorFlow)")
    p.add_argument("--ops", help="comma-separated op names (default: all)")
    p.add_argument("--variants", help="comma-separated variants (default: all)")
    p.add_argument("--dtypes", action="append", help="comma-separated dtypes")
    p.add_argument("--examples", type=int, help="configs drawn per op (without --reference)")
    p.add_argument("--profile", choices=sorted(EXAMPLES),
                   help="the plan's profile (without --reference; default: dev)")
    p.add_argument("--seed", type=int, help="default 0 (without --reference)")
    p.add_argument("--settings", help=f"comma-separated, from {', '.join(SETTINGS)}, or cpu-isa "
                   "(oneDNN off and every ISA level this CPU reaches; these re-run TF) (default: "
                   "cpu, and the CUDA ones where torch sees CUDA)")
    p.add_argument("--repeats", type=int, default=2,
                   help="runs per setting, compared bitwise (default 2)")
    p.add_argument("--out", default="reports/matrix",
                   help="directory of the matrix and every run (default: reports/matrix)")


def _progress(text: str) -> None:
    print(f"parity matrix: {text}", file=sys.stderr, flush=True)


def _settings(text: str | None, reference: bool) -> list[str]:
    from parity.backends import BackendUnavailable, missing, torch as B
    from parity.cli.common import BadInput, _names
    from parity.flows.matrix import CPU_KERNEL_SETTINGS, SETTINGS, default_settings, reachable

    chosen = None if text is None else _names(text, "--settings")
    if chosen is not None and "cpu-isa" in chosen:
        i = chosen.index("cpu-isa")
        chosen[i:i + 1] = [s for s in CPU_KERNEL_SETTINGS if s not in chosen and reachable(s)]
    unknown = [s for s in chosen or [] if s not in SETTINGS]
    if unknown:
        raise BadInput(f"unknown setting(s) {', '.join(unknown)}; known: {', '.join(SETTINGS)}, "
                       "cpu-isa")
    kernels = [s for s in chosen or [] if s in CPU_KERNEL_SETTINGS]
    if kernels and reference:
        raise BadInput(f"{', '.join(kernels)} re-run TensorFlow under other CPU kernels: they "
                       "cannot use --reference")
    if kernels and missing(("tensorflow",)):
        raise BadInput(f"{', '.join(kernels)} need TensorFlow, which is not importable here")
    beyond = [s for s in kernels if not reachable(s)]
    if beyond:
        from parity.backends.onednn import dispatched

        best = dispatched()["isa"] or "nothing (oneDNN is off)"
        raise BadInput(f"{', '.join(beyond)}: this CPU's oneDNN reaches {best} at most")
    try:
        torch = B.torch()
    except BackendUnavailable as e:
        raise BadInput(f"cannot run cases: {e}") from None
    if chosen is None:
        return default_settings(torch.cuda.is_available())
    need_cuda = [s for s in chosen if SETTINGS[s]["device"] == "cuda"]
    if need_cuda and not torch.cuda.is_available():
        raise BadInput(f"{', '.join(need_cuda)} need CUDA: torch {torch.__version__} sees no "
                       "CUDA device")
    return chosen


def cmd_matrix(args) -> int:
    from parity.flows import matrix
    from parity.cli.common import EXIT_DIVERGENCE, EXIT_OK, BadInput, _out_dir
    from parity.report import WriteFailed

    _out_dir(args)
    if args.repeats < 1:
        raise BadInput("--repeats must be at least 1")
    planning = {k: v for k, v in (("examples", args.examples), ("profile", args.profile),
                                  ("seed", args.seed)) if v is not None}
    picking = {"ops": args.ops, "variants": args.variants, "dtypes": args.dtypes}
    if args.reference and planning:
        raise BadInput(f"{' '.join('--' + k for k in planning)} cannot be used with --reference: "
                       "the archive fixes the cases")
    settings = _settings(args.settings, bool(args.reference))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    selection = picking if args.reference else picking | (planning or {"profile": "dev"})
    archive, reports, interrupted = None, {}, False
    try:
        if args.reference:
            archive = Path(args.reference)
        elif any(matrix.SETTINGS[s].get("env") is None for s in settings):
            archive = matrix.record(out, selection, _progress)
        matrix.run_settings(archive, settings, args.repeats, out, selection, _progress,
                            reports=reports)
    except matrix.MatrixFailed as e:
        print(f"parity: error: {e}", file=sys.stderr)
        return e.code
    except KeyboardInterrupt:  # the runs finished so far make a matrix, marked incomplete
        interrupted = True
        if not reports:
            raise
    result = matrix.build(archive, reports, out)
    if interrupted:
        from parity.core import signals

        result["complete"], result["interrupted"] = False, True
        result["signal"] = signals.received()
    try:
        json_path, html_path = matrix.write(result, out)
    except OSError as e:
        raise WriteFailed(f"cannot write the matrix in {out}: {e.strerror or e}") from None
    for op in result["ops"]:
        row = result["cells"][op]
        print(f"{op:24} " + "  ".join(f"{s}: {_short(row[s])}" for s in row))
    _print_entries(result)
    print(f"{len(result['ops'])} ops x {len(result['settings'])} settings, {result['unexpected']} "
          f"unexpected; matrix: {json_path} ({html_path.name})")
    if interrupted:
        from parity.core import signals

        print("interrupted: the matrix holds the runs finished so far (complete: false)")
        return signals.exit_code()
    return EXIT_DIVERGENCE if result["unexpected"] or not result["complete"] else EXIT_OK


def _print_entries(result: dict) -> None:
    """The registry entries x the settings of TF's CPU kernels: reproduced/exercised cases."""
    from parity.flows.matrix import CPU_KERNEL_SETTINGS

    names = [s["name"] for s in result["settings"]
             if s["name"] in CPU_KERNEL_SETTINGS or s["name"] == "cpu"]
    if not any(n in CPU_KERNEL_SETTINGS for n in names):
        return
    print("registry entries, reproduced/exercised cases per setting (isa: "
          + ", ".join(f"{s['name']}={s.get('isa') or '-'}" for s in result["settings"]
                      if s["name"] in names) + ")")
    for entry, row in result["entries"].items():
        cells = [f"{row[n]['reproduced']}/{row[n]['exercised']}" if n in row else "-"
                 for n in names]
        print(f"  {entry:56} " + " ".join(f"{c:>9}" for c in cells))


def _short(cell: dict) -> str:
    bits = cell["bitwise"]
    repeat = "-" if not bits else ("same" if not bits["differing"]
                                   else f"varies {bits['differing']}/{bits['compared']}")
    return f"{cell['unexpected']} unexpected, {repeat}"
