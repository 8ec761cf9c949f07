"""Harness throughput against the bare framework calls, per op family, on the same cases.

bare:    per case, what a user writes by hand (``benchmarks/bare.py``): the TF call and the
         torch call with their gradients and a max-abs-diff per output (a KS distance for an
         initializer); no reference, bounds, records or registry.
harness: ``parity.exec.runner.run_case`` on the same (config, seed) pairs, for the op's variant
         that does the same framework work.

Prints a table (cases, bare and harness cases/s, ratio per family; "same diff": of the cases
where both compared TF with torch, those whose bare max-abs-diff equals the harness's, the check
that the bare loop does the same work) and ends with
``harness/bare throughput ratio: R`` over all families (total bare time / total harness time).
Thread counts: ``PARITY_THREADS`` (default 1); ``--threads-scan`` also prints that total with 1
and 2 threads per framework, each in a subprocess.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).parent))

from bare import FAMILIES  # noqa: E402

from parity.spec import registry  # noqa: E402
from parity.spec.divergences import Registry  # noqa: E402
from parity.exec.runner import run_case  # noqa: E402
from parity.spec.sweep import draw_configs  # noqa: E402

DTYPES = {"mixed": ("bfloat16",)}


def cases(family: str, n: int, seed: int):
    op, _, _, takes = FAMILIES[family]
    return [(c, s) for c, s in draw_configs(op, n, seed, DTYPES.get(family, ("float32",)))
            if takes(c)]


def bare_seconds(family: str, pairs) -> float:
    op_name, _, bare, _ = FAMILIES[family]
    op = registry.get(op_name)
    start = time.perf_counter()
    for c, s in pairs:
        try:  # a hand-written loop too must get past a config one framework refuses
            bare(c, op.make_inputs(c, s))
        except Exception:  # noqa: BLE001
            pass
    return time.perf_counter() - start


def harness_seconds(family: str, pairs, divergences) -> float:
    op, variant, _, _ = FAMILIES[family]
    start = time.perf_counter()
    for c, s in pairs:
        run_case(op, variant, c.to_dict(), s, divergences=divergences)
    return time.perf_counter() - start


def agreement(family: str, pairs, divergences) -> tuple[int, int]:
    """(cases where the bare loop's largest difference equals the harness's max_abs_diff,
    cases where both compared TF with torch): the bare loop does the same work, checked."""
    op_name, variant, bare, _ = FAMILIES[family]
    op = registry.get(op_name)
    same = both = 0
    for c, s in pairs:
        rec = run_case(op_name, variant, c.to_dict(), s, divergences=divergences)
        try:
            diffs = [d for d in bare(c, op.make_inputs(c, s)).values() if d is not None]
        except Exception:  # noqa: BLE001 - refused: nothing compared
            diffs = []
        judged_by_tf = rec["outputs"] and all("versus_tf" not in m for m in
                                              rec["outputs"].values())
        if not diffs or rec["max_abs_diff"] is None or rec["rejections"] or not judged_by_tf:
            continue
        both += 1
        same += bool(np.isclose(max(diffs), rec["max_abs_diff"], rtol=1e-6, atol=0, equal_nan=True))
    return same, both


def measure(n: int, repeats: int, families) -> dict:
    divergences = Registry.load()
    rows = {}
    for family in families:
        pairs = cases(family, n, seed=1)
        bare_seconds(family, pairs[:5]), harness_seconds(family, pairs[:5], divergences)  # warm
        b = min(bare_seconds(family, pairs) for _ in range(repeats))
        h = min(harness_seconds(family, pairs, divergences) for _ in range(repeats))
        rows[family] = (len(pairs), b, h, agreement(family, pairs, divergences))
    return rows


@np.errstate(invalid="ignore")
def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cases", type=int, default=60, help="configs drawn per family")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--families", default=",".join(FAMILIES))
    p.add_argument("--threads-scan", action="store_true")
    args = p.parse_args()
    rows = measure(args.cases, args.repeats, args.families.split(","))
    print(f"threads per framework: {os.environ.get('PARITY_THREADS', '1')}; best of "
          f"{args.repeats}; float32 (mixed: bfloat16 compute)")
    print(f"{'family':<10} {'op/variant':<27} {'cases':>5} {'bare/s':>8} {'harness/s':>9} "
          f"{'ratio':>6} {'same diff':>9}")
    for family, (n, b, h, (same, both)) in rows.items():
        op, variant = FAMILIES[family][:2]
        print(f"{family:<10} {op + '/' + variant:<27} {n:>5} {n / b:>8.1f} {n / h:>9.1f} "
              f"{b / h:>6.2f} {f'{same}/{both}':>9}")
    total_b = sum(row[1] for row in rows.values())
    total_h = sum(row[2] for row in rows.values())
    if args.threads_scan:
        for t in ("1", "2"):
            out = subprocess.run([sys.executable, __file__, "--cases", str(args.cases),
                                  "--repeats", "1", "--families", args.families],
                                 env={**os.environ, "PARITY_THREADS": t},
                                 capture_output=True, text=True).stdout
            print(f"threads={t}: " + " | ".join(l for l in out.splitlines() if "ratio:" in l))
    print(f"harness/bare throughput ratio: {total_b / total_h:.2f} "
          f"(all families: bare {total_b:.1f} s, harness {total_h:.1f} s)")


if __name__ == "__main__":
    main()
