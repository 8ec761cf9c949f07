"""Scaling: cases per second with 1 and 2 workers (or ``--workers 1,4,16``) on the same plan,
and the per-case cost by op family, as tables.

    PARITY_THREADS=1 python benchmarks/scaling.py [--examples 12]
    PARITY_THREADS=1 python benchmarks/scaling.py --reference tf.npz --workers 1,2,4,8,16

The plan is every op at ``--examples`` configs (20 by default: 2,168 cases, the init ops scaled
as in profiles), or a record archive's cases with ``--reference`` (torch sides only, against the
recorded TF results: how a machine without TensorFlow, like a GPU host, scales). Every run
includes its start-up: one process imports the frameworks at its first case; workers are forked
from a server that imports them once while the plan is drawn (the time to the first finished
case is shown separately).
"""
from __future__ import annotations

import argparse
import tempfile
import time
from collections import defaultdict

from parity.spec import registry
from parity.flows.session import run_sweep

DTYPES = ("float32", "float64", "float16", "bfloat16")


def timed(workers: int, examples: int, out: str,
          reference: str | None = None) -> tuple[dict, float, float | None]:
    first: list[float] = []
    start = time.perf_counter()

    def progress(done, total):
        if done and not first:
            first.append(time.perf_counter() - start)
    if reference:
        from parity.report.archive import Archive
        from parity.flows.session import run_reference

        report, _ = run_reference(Archive(reference), out_dir=out, workers=workers,
                                  progress=progress)
    else:
        report, _ = run_sweep(registry.names(), examples=examples, seed=0, dtypes=DTYPES,
                              out_dir=out, workers=workers, progress=progress)
    return report, time.perf_counter() - start, (first[0] if first else None)


def _differences(first: dict, other: dict, count: int) -> str:
    """Whether two runs of one plan gave the same cases and statuses, and which differ."""
    before = {c["id"]: c for c in first["cases"]}
    after = {c["id"]: c for c in other["cases"]}
    if before.keys() != after.keys():
        return f"NOT the same cases as with {count} ({len(before.keys() ^ after.keys())} differ)"
    changed = [(c["op"], c["variant"], c["status"], after[i]["status"],
                str(after[i].get("error") or after[i].get("rejections"))[:200])
               for i, c in before.items()
               if c["status"] != after[i]["status"]]
    if not changed:
        return f"same cases and statuses as with {count}"
    return (f"{len(changed)} statuses differ from {count}'s, e.g.\n  "
            + "\n  ".join(" ".join(map(str, c)) for c in changed[:6]))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--examples", type=int, default=20)
    ap.add_argument("--workers", default="1,2", help="comma-separated worker counts; the first "
                    "is the one the others are compared with (default 1,2)")
    ap.add_argument("--reference", help="a record archive: its cases, torch sides only")
    args = ap.parse_args(argv)
    counts = [int(w) for w in args.workers.split(",")]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for workers in counts:
            report, wall, first = timed(workers, args.examples, f"{tmp}/{workers}",
                                        args.reference)
            rows.append((workers, len(report["cases"]), wall, first))
            if workers == counts[0]:
                single = report
            else:
                print(f"{workers} workers: {_differences(single, report, counts[0])}")
    print(f"{'workers':>7} {'cases':>6} {'wall s':>8} {'cases/s':>8} {'speed-up':>9} "
          f"{'first case s':>13}")
    for workers, n, wall, first in rows:
        print(f"{workers:>7} {n:>6} {wall:>8.1f} {n / wall:>8.1f} {rows[0][2] / wall:>8.2f}x "
              f"{(f'{first:.1f}' if first is not None else '-'):>13}")
    cost: dict[str, list[float]] = defaultdict(list)
    for case in single["cases"]:
        cost[registry.get(case["op"]).family].append(case["duration_s"])
    print(f"\nper case with {counts[0]} worker(s):")
    print(f"\n{'family':<12} {'cases':>6} {'ms/case':>8} {'share':>7}")
    total = sum(sum(v) for v in cost.values())
    for family, times in sorted(cost.items(), key=lambda kv: -sum(kv[1])):
        print(f"{family:<12} {len(times):>6} {1000 * sum(times) / len(times):>8.1f} "
              f"{sum(times) / total:>7.1%}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
