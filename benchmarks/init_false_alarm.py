"""Observed false-alarm rate of the initializer comparisons on correct pairs.

Runs the ``port`` variant of every ``init_*`` op (Keras vs ``parity.ports.init``, which draw
from the same documented distribution) over ``--configs`` configs per op, ``--seeds`` input
seeds each, at the default sample sizes, and prints per op: cases, cases failed (false alarms
at the case alpha, ``parity.core.stats.CASE_ALPHA``), and the share of the per-test p-values below
0.05 and 0.01 (about 5 % and 1 % when the p-values are calibrated; less for the discrete
tests), and the share below 0.01 per dtype (bfloat16 runs high: TF's bfloat16 uniform is a
128-value lattice, registry entry ``tf-bfloat16-uniform-7-bits``). It ends with the overall
observed rate and its 95 % upper bound.

    PARITY_THREADS=1 python benchmarks/init_false_alarm.py --configs 10 --seeds 3
"""
from __future__ import annotations

import argparse
import time

from parity.spec import registry
from parity.exec.runner import run_case
from parity.core.stats import CASE_ALPHA
from parity.spec.sweep import draw_configs

DTYPES = ("float32", "float64", "float16", "bfloat16")


def upper_bound_95(failures: int, n: int) -> float:
    """Clopper-Pearson 95 % upper bound of a rate with ``failures`` in ``n``."""
    from scipy.stats import beta

    return 1.0 if failures >= n else float(beta.ppf(0.95, failures + 1, n - failures))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--configs", type=int, default=12, help="configs per op")
    ap.add_argument("--seeds", type=int, default=3, help="input seeds per config")
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args(argv)
    start = time.perf_counter()
    total = failed = 0
    below = {0.05: 0, 0.01: 0}
    p_count = 0
    by_dtype: dict[str, list[int]] = {}   # dtype -> [p-values, below 0.01]
    print(f"{'op':24s} {'cases':>6s} {'failed':>7s} {'p<0.05':>8s} {'p<0.01':>8s}")
    for op in (n for n in registry.names() if n.startswith("init_")):
        cases = fails = 0
        op_below = {0.05: 0, 0.01: 0}
        op_p = 0
        for config, _ in draw_configs(op, args.configs, args.seed, DTYPES):
            for s in range(args.seeds):
                rec = run_case(op, "port", config.to_dict(), args.seed * 1000 + s)
                cases += 1
                fails += rec["status"] != "pass"
                for m in rec["outputs"].values():
                    ps = [p for p in m["p_values"].values() if p is not None]
                    op_p += len(ps)
                    counts = by_dtype.setdefault(config.dtype, [0, 0])
                    counts[0] += len(ps)
                    counts[1] += sum(p < 0.01 for p in ps)
                    for level in op_below:
                        op_below[level] += sum(p < level for p in ps)
        print(f"{op:24s} {cases:6d} {fails:7d} {op_below[0.05] / op_p:8.3%} "
              f"{op_below[0.01] / op_p:8.3%}")
        total, failed, p_count = total + cases, failed + fails, p_count + op_p
        for level in below:
            below[level] += op_below[level]
    print(f"p-values below 0.05: {below[0.05] / p_count:.3%}, below 0.01: "
          f"{below[0.01] / p_count:.3%} of {p_count}")
    print("p-values below 0.01 by dtype: " + ", ".join(
        f"{d} {b / n:.2%} of {n}" for d, (n, b) in sorted(by_dtype.items())))
    print(f"observed false-alarm rate: {failed} of {total} correct cases "
          f"(95 % upper bound {upper_bound_95(failed, total):.2g}; stated bound {CASE_ALPHA:g} "
          f"per case); {time.perf_counter() - start:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
