"""``parity matrix``: its arguments and command (``parity.matrix`` does the work)."""
from __future__ import annotations

import sys
from pathlib import Path


def add_arguments(p) -> None:
    from parity.matrix import SETTINGS
    from parity.profiles import EXAMPLES

    p.add_argument("--reference", help="a record archive of TF's side (default: record one "
                   "first, in OUT/tf.npz; needs TensorFlow)")
    p.add_argument("--ops", help="comma-separated op names (default: all)")
    p.add_argument("--variants", help="comma-separated variants (default: all)")
    p.add_argument("--dtypes", action="append", help="comma-separated dtypes")
    p.add_argument("--examples", type=int, help="configs drawn per op (without --reference)")
    p.add_argument("--profile", choices=sorted(EXAMPLES),
                   help="the plan's profile (without --reference; default: dev)")
    p.add_argument("--seed", type=int, help="default 0 (without --reference)")
    p.add_argument("--settings", help=f"comma-separated, from {', '.join(SETTINGS)} (default: "
                   "cpu, and the CUDA ones where torch sees CUDA)")
    p.add_argument("--repeats", type=int, default=2,
                   help="runs per setting, compared bitwise (default 2)")
    p.add_argument("--out", default="reports/matrix",
                   help="directory of the matrix and every run (default: reports/matrix)")


def _progress(text: str) -> None:
    print(f"parity matrix: {text}", file=sys.stderr, flush=True)


def _settings(text: str | None) -> list[str]:
    from parity.backends import BackendUnavailable, torch as B
    from parity.cli import BadInput, _names
    from parity.matrix import SETTINGS, default_settings

    chosen = None if text is None else _names(text, "--settings")
    unknown = [s for s in chosen or [] if s not in SETTINGS]
    if unknown:
        raise BadInput(f"unknown setting(s) {', '.join(unknown)}; known: {', '.join(SETTINGS)}")
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
    from parity import matrix
    from parity.cli import EXIT_DIVERGENCE, EXIT_OK, BadInput, _out_dir
    from parity.report import WriteFailed

    _out_dir(args)
    if args.repeats < 1:
        raise BadInput("--repeats must be at least 1")
    plan_flags = [f for flag, value in (("--examples", args.examples), ("--profile", args.profile),
                                        ("--seed", args.seed)) if value is not None
                  for f in (flag, str(value))]
    select_flags = [f for flag, value in (("--ops", args.ops), ("--variants", args.variants))
                    if value is not None for f in (flag, value)]
    select_flags += [f for d in args.dtypes or [] for f in ("--dtypes", d)]
    if args.reference and plan_flags:
        raise BadInput(f"{' '.join(plan_flags[::2])} cannot be used with --reference: the "
                       "archive fixes the cases")
    settings = _settings(args.settings)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    try:
        if args.reference:
            archive = Path(args.reference)
        else:
            archive = matrix.record(out, (plan_flags or ["--profile", "dev"]) + select_flags,
                                    _progress)
            select_flags = []
        reports = matrix.run_settings(archive, settings, args.repeats, out, select_flags,
                                      _progress)
    except matrix.MatrixFailed as e:
        print(f"parity: error: {e}", file=sys.stderr)
        return e.code
    result = matrix.build(archive, reports, out)
    try:
        json_path, html_path = matrix.write(result, out)
    except OSError as e:
        raise WriteFailed(f"cannot write the matrix in {out}: {e.strerror or e}") from None
    for op in result["ops"]:
        row = result["cells"][op]
        print(f"{op:24} " + "  ".join(f"{s}: {_short(row[s])}" for s in row))
    print(f"{len(result['ops'])} ops x {len(settings)} settings, {result['unexpected']} "
          f"unexpected; matrix: {json_path} ({html_path.name})")
    return EXIT_DIVERGENCE if result["unexpected"] or not result["complete"] else EXIT_OK


def _short(cell: dict) -> str:
    bits = cell["bitwise"]
    repeat = "-" if not bits else ("same" if not bits["differing"]
                                   else f"varies {bits['differing']}/{bits['compared']}")
    return f"{cell['unexpected']} unexpected, {repeat}"
