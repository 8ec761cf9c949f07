"""The core, the comparator, the report and `parity list` run with neither framework importable."""
import subprocess
import sys
import textwrap

SCRIPT = textwrap.dedent("""
    import importlib.abc
    import sys

    class Absent(importlib.abc.MetaPathFinder):   # as on a machine without them
        def find_spec(self, name, path, target=None):
            if name.partition(".")[0] in ("torch", "tensorflow", "keras"):
                raise ImportError(f"No module named {name!r}")

    sys.meta_path.insert(0, Absent())
    import numpy as np
    from parity import cli
    from parity.spec import registry, reference, sweep
    from parity.core import layout, padding, tolerance
    from parity.exec import runner
    from parity.report import build_report, validate
    from parity.spec.divergences import Registry
    assert cli.main(["list"]) == 0
    ref = np.ones((2, 2))
    m = tolerance.compare_output(ref, ref, ref, tolerance.rounding_bound(ref, 4, "float32"))
    Registry.load()
    from parity.core import stats
    assert not stats.compare_samples(ref.ravel(), ref.ravel(), stats.Claim.constant(1.0),
                                     "float32", 1)["failed"]
    plan = sweep.plan_cases(["conv2d_same"], ["port"], 3, 0, ("float32",))
    validate(build_report([], run={"command": "run"}, environment={}, complete=True))
    rec = runner.run_case("conv2d_same", "port", plan[0][2], plan[0][3])
    assert rec["status"] == "error" and "tensorflow is not importable" in rec["error"], rec
    assert cli.main(["run", "--examples", "1"]) == 2    # one line: not importable
    print("ok", len(plan))
""")


def test_core_runs_without_tensorflow_and_torch():
    out = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().endswith("ok 3")
