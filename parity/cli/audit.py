"""``parity audit``: its flags and what it prints (see ``parity.flows.auditing``).

Exit codes as for every command: 0 pass, 1 the candidate failed, 2 bad input (unknown op, a
candidate that cannot be imported, or whose module exits or crashes on import), 130
interrupted (the report of the cases done so far is still written).
"""
from __future__ import annotations

from parity.exec.isolation import DEFAULT_MEMORY_GIB, DEFAULT_TIMEOUT_S
from parity.exec.runner import NONFINITE
from parity.cli.common import (_choose_device, _dtypes, _examples, _out_dir, _progress,
                               _seed)
from parity.flows.auditing import class_lines
from parity.spec import registry


def add_arguments(s) -> None:
    s.add_argument("op")
    s.add_argument("candidate", help="package.module:function (or a module class / factory)")
    s.add_argument("--nonfinite", choices=NONFINITE, default="tf",
                   help="NaN/inf inputs: tf = TF's semantics are the contract (its max pool "
                        "skips NaN); ieee = NaN propagates, the float64 reference judges those "
                        "cases; skip = no NaN/inf fills (default: tf)")
    s.add_argument("--forward-only", action="store_true",
                   help="judge y only, for candidates without autograd (NumPy, ONNX)")
    s.add_argument("--module", action="store_true",
                   help="the candidate is a factory returning an nn.Module (a class is "
                        "recognised without this)")
    s.add_argument("--case-timeout", type=float, default=DEFAULT_TIMEOUT_S,
                   help=f"seconds a case may take before the worker is killed "
                        f"(default {DEFAULT_TIMEOUT_S:g})")
    s.add_argument("--case-memory", type=float, default=DEFAULT_MEMORY_GIB,
                   help=f"GiB of address space for the worker, 0 for no limit "
                        f"(default {DEFAULT_MEMORY_GIB:g}; Linux)")
    s.add_argument("--in-process", action="store_true",
                   help="run the candidate in this process (no isolation; for debugging)")


def audit(args, examples: int, progress) -> int:
    from parity.api import audit as run_audit
    from parity.core import signals
    from parity.cli.common import EXIT_DIVERGENCE, EXIT_OK, load_candidate

    candidate = load_candidate(args.candidate) if args.in_process else args.candidate
    result = run_audit(args.op, candidate, examples=args.examples, profile=args.profile,
                       seed=args.seed, dtypes=args.dtypes, nonfinite=args.nonfinite,
                       forward_only=args.forward_only, module=args.module,
                       name=args.candidate, case_timeout=args.case_timeout,
                       memory_gib=args.case_memory, out=args.out, progress=progress)
    report, path = result.report.data, result.report.path
    a, run = report["audit"], report["run"]
    head = f"audit {args.op} {args.candidate}"
    configs = run.get("configs", 0)
    if configs < examples and not run["interrupted"]:
        print(f"{configs} configs ({examples - configs} duplicate draws dropped)")
    if run["interrupted"]:
        print(f"interrupted after {len(report['cases'])} cases; report: {path}")
        return signals.exit_code()
    print(_judged_line(a, run))
    if a["other_dtype_cases"]:
        print(f"note: in {a['other_dtype_cases']} cases the candidate returned another dtype "
              "than its input's (see the cases' warnings)")
    if a["verdict"] == "pass":
        print(f"{head}: pass; report: {path}")
        return EXIT_OK
    print("\n".join(class_lines(report, head)))
    print(f"report: {path}")
    return EXIT_DIVERGENCE


def _judged_line(a: dict, run: dict) -> str:
    j = a["judged_outputs"]
    unjudged = sum(a["unjudged_outputs"].values())
    what = ", ".join(f"{n} {c}" for n, c in sorted(a["unjudged_outputs"].items()))
    line = (f"{run.get('configs', 0)} cases; outputs judged: {j['tf']} against TF, "
            f"{j['reference']} against the float64 reference; {unjudged} not judged"
            + (f" ({what}: implementation-defined where a max-pool window ties)" if what else ""))
    if run.get("forward_only"):
        line += "; forward only: gradients not judged"
    return line


def cmd_audit(args) -> int:
    _out_dir(args)
    registry.get(args.op)
    args.seed = _seed(args)
    examples = _examples(args)
    _dtypes(args.dtypes)
    _choose_device(args)
    return audit(args, examples, _progress)
