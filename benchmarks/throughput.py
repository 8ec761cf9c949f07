"""Harness throughput against the bare framework calls, on the same cases.

bare:    per case, the TF op and the torch port with their gradients (the same
         framework work the harness does) and a max-abs-diff per output; no
         reference, bounds, records or registry.
harness: ``parity.runner.run_case`` on the same (config, seed) pairs.

Prints both rates and ends with ``harness/bare throughput ratio: R``.
Thread counts: ``PARITY_THREADS`` (default 1); ``--threads-scan`` also times the
bare loop with 1 and 2 threads per framework in subprocesses.
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

import numpy as np

from parity.divergences import Registry
from parity.ops.conv import make_inputs, tf_nn, torch_port
from parity.runner import run_case
from parity.sweep import draw_configs

OP = "conv2d_same"


def cases(n: int, seed: int):
    return [(c, s) for c, s in draw_configs(OP, n, seed, ("float32",))
            if max(c.dilation) == 1 and c.groups == 1]  # both sides fully computable on TF CPU


def bare(pairs) -> float:
    start = time.perf_counter()
    for c, s in pairs:
        inp = make_inputs(c, s)
        a, b = tf_nn(c, inp), torch_port(c, inp)
        _ = {k: float(np.abs(a[k] - b[k]).max()) for k in a}
    return len(pairs) / (time.perf_counter() - start)


def harness(pairs) -> float:
    registry = Registry.load()
    start = time.perf_counter()
    for c, s in pairs:
        run_case(OP, "port", c.to_dict(), s, divergences=registry)
    return len(pairs) / (time.perf_counter() - start)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--cases", type=int, default=300)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads-scan", action="store_true")
    args = p.parse_args()
    pairs = cases(args.cases, seed=1)
    bare(pairs[:20]), harness(pairs[:20])  # warm up both frameworks and caches
    b = max(bare(pairs) for _ in range(args.repeats))
    h = max(harness(pairs) for _ in range(args.repeats))
    print(f"cases: {len(pairs)} ({OP}, float32, undilated, ungrouped), best of {args.repeats}")
    print(f"threads per framework: {os.environ.get('PARITY_THREADS', '1')}")
    print(f"bare:    {b:8.1f} cases/s")
    print(f"harness: {h:8.1f} cases/s")
    if args.threads_scan:
        for t in ("1", "2"):
            out = subprocess.run([sys.executable, __file__, "--cases", str(args.cases),
                                  "--repeats", str(args.repeats)],
                                 env={**os.environ, "PARITY_THREADS": t},
                                 capture_output=True, text=True).stdout
            print(f"threads={t}: " + " | ".join(l for l in out.splitlines() if "cases/s" in l))
    print(f"harness/bare throughput ratio: {h / b:.2f}")


if __name__ == "__main__":
    main()
