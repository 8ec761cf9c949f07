"""What the commands share: exit codes, the argument parser that refuses in one line, the
flags' readers (profile, budget, examples, seed, output directory, device) and what they print
while running (progress, the summary table)."""
from __future__ import annotations

import argparse
import sys

from parity.core import signals
from parity.core.errors import BadInput
from parity.core.outputs import check_dir
from parity.core.text import printable
from parity.flows import plan
from parity.flows.plan import (MAX_EXAMPLES, describe as _describe, dtypes as _dtypes,  # noqa: F401
                               load_candidate, names as _names, ops as _ops,
                               plan_or_refuse as _plan_or_refuse,
                               registry_checked as _registry_checked,
                               require_frameworks as _require_frameworks,
                               variants as _variants, workers as _workers)

EXIT_OK, EXIT_DIVERGENCE, EXIT_BAD_INPUT, EXIT_NOT_WRITTEN = 0, 1, 2, 3
EXIT_INTERRUPTED = signals.EXIT_INTERRUPTED
EXIT_CLOSED_PIPE = 141  # as a shell reports a command its SIGPIPE ended

_SHOWN: dict = {}


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2, like every other bad input
        raise BadInput(f"{self.prog}: {message}")

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

def _examples(args) -> int:
    return plan.examples(args.examples, args.profile)

def _seed(args) -> int:
    return 0 if args.seed is None else args.seed

def _out_dir(args):
    return check_dir(args.out)

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
