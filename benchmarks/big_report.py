"""``parity compare`` and ``parity html`` on big reports: wall time and peak memory.

Builds two reports of ``--cases`` cases (default 200,000) from a real one (the committed
baseline, unless ``--from``): each case repeated under new seeds (its id recomputed), the
second report with every 97th case's metrics grown 10x and every 101st turned into a fail,
so the comparison has something to find. Then runs ``parity compare`` and ``parity html`` on
them, each in a fresh process, and prints seconds and peak resident memory of each.

    python benchmarks/big_report.py [--cases 200000] [--from REPORT] [--dir DIR]
"""
from __future__ import annotations

import argparse
import copy
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from parity.report.io import load_report  # noqa: E402
from parity.core.ids import case_id  # noqa: E402


def _grown(case: dict, k: int) -> dict:
    case = copy.deepcopy(case)
    if k % 97 == 0 and all(m.get("kind") != "distribution" for m in case["outputs"].values()):
        for m in case["outputs"].values():
            for name in ("max_abs_diff", "bound_ratio"):
                if isinstance(m.get(name), (int, float)) and math.isfinite(m[name] * 10):
                    m[name] = m[name] * 10 + 0.5
    if k % 101 == 0 and case["status"] == "pass":
        case["status"] = "fail"
    return case


def write_pair(source: dict, n: int, out: Path) -> tuple[Path, Path]:
    """Two reports of ``n`` cases each, written one case per line as parity writes them."""
    head = {k: v for k, v in source.items() if k != "cases"}
    cases = source["cases"]
    paths = out / "baseline.json", out / "current.json"
    with open(paths[0], "w") as fb, open(paths[1], "w") as fc:
        for f in (fb, fc):
            f.write("{\n" + "".join(f" {json.dumps(k)}: "
                                    + json.dumps(v, indent=1).replace("\n", "\n ") + ",\n"
                                    for k, v in head.items()) + ' "cases": [\n')
        for k in range(n):
            base = cases[k % len(cases)]
            seed = base["seed"] + 1_000_003 * (k // len(cases))
            case = dict(base, seed=seed, id=case_id(base["op"], base["variant"], base["config"], seed))
            sep = ",\n" if k else ""
            fb.write(sep + "  " + json.dumps(case))
            fc.write(sep + "  " + json.dumps(_grown(case, k)))
        for f in (fb, fc):
            f.write("\n ]\n}\n")
    return paths


def measured(argv: list[str]) -> tuple[float, float, int]:
    """(seconds, peak resident GiB, exit code) of ``python -m parity argv`` in a fresh process
    (its own peak: ``os.wait4``'s resource usage of that child)."""
    with tempfile.TemporaryFile("w+") as log:
        start = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "parity", *argv], stdout=log,
                                stderr=subprocess.STDOUT, cwd=ROOT)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        proc.returncode = os.waitstatus_to_exitcode(status)
        log.seek(0)
        lines = [line for line in log.read().splitlines() if line.strip()]
    print(f"  parity {argv[0]}: exit {proc.returncode}; {(lines or [''])[-1][:110]}")
    return seconds, usage.ru_maxrss / 2**20, proc.returncode


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=int, default=200_000)
    ap.add_argument("--from", dest="source", default=str(ROOT / "reports/baselines/default.json"))
    ap.add_argument("--dir", default=None, help="where the two reports go (default: a temp dir)")
    args = ap.parse_args()
    if args.dir:
        return _run(args, Path(args.dir))
    with tempfile.TemporaryDirectory(prefix="parity-big-") as out:   # 1 GB: removed after
        return _run(args, Path(out))


def _run(args, out: Path) -> int:
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    base, cur = write_pair(load_report(args.source), args.cases, out)
    size = base.stat().st_size / 2**20
    print(f"{args.cases} cases per report, {size:.0f} MiB each, written in "
          f"{time.perf_counter() - start:.0f} s")
    rows = [("compare", *measured(["compare", str(base), str(cur)])),
            ("html", *measured(["html", str(cur), "-o", str(out / "current.html")]))]
    print(f"{'command':<8} {'seconds':>8} {'peak GiB':>9}  exit")
    for name, seconds, gib, rc in rows:
        print(f"{name:<8} {seconds:8.1f} {gib:9.2f}  {rc}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
