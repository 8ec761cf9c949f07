"""Scaling: cases per second with 1 and 2 workers on the same plan, and the per-case cost by
op family, as tables.

    PARITY_THREADS=1 python benchmarks/scaling.py [--examples 12]

The plan is every op at ``--examples`` configs (20 by default: 2,168 cases, the init ops scaled
as in profiles). Both runs include their start-up: one process imports TensorFlow and torch at
its first case; two workers are forked from a server that imports them once while the plan is
drawn (the time to the first finished case is shown separately).
"""
from __future__ import annotations

import argparse
import tempfile
import time
from collections import defaultdict

from parity import registry
from parity.session import run_sweep

DTYPES = ("float32", "float64", "float16", "bfloat16")


def timed(workers: int, examples: int, out: str) -> tuple[dict, float, float | None]:
    first: list[float] = []
    start = time.perf_counter()

    def progress(done, total):
        if done and not first:
            first.append(time.perf_counter() - start)
    report, _ = run_sweep(registry.names(), examples=examples, seed=0, dtypes=DTYPES,
                          out_dir=out, workers=workers, progress=progress)
    return report, time.perf_counter() - start, (first[0] if first else None)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--examples", type=int, default=20)
    args = ap.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for workers in (1, 2):
            report, wall, first = timed(workers, args.examples, f"{tmp}/{workers}")
            rows.append((workers, len(report["cases"]), wall, first))
            if workers == 1:
                single = report
    print(f"{'workers':>7} {'cases':>6} {'wall s':>8} {'cases/s':>8} {'first case s':>13}")
    for workers, n, wall, first in rows:
        print(f"{workers:>7} {n:>6} {wall:>8.1f} {n / wall:>8.1f} "
              f"{(f'{first:.1f}' if first is not None else '-'):>13}")
    print(f"speed-up with 2 workers: {rows[0][2] / rows[1][2]:.2f}x")
    cost: dict[str, list[float]] = defaultdict(list)
    for case in single["cases"]:
        cost[registry.get(case["op"]).family].append(case["duration_s"])
    print(f"\n{'family':<12} {'cases':>6} {'ms/case':>8} {'share':>7}")
    total = sum(sum(v) for v in cost.values())
    for family, times in sorted(cost.items(), key=lambda kv: -sum(kv[1])):
        print(f"{family:<12} {len(times):>6} {1000 * sum(times) / len(times):>8.1f} "
              f"{sum(times) / total:>7.1%}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
