"""record + run --reference: TF results stored once give the live verdicts without TensorFlow."""
import os
import subprocess
import sys

from parity import cli
from parity.report import load_report

OPS = "conv2d_same,init_he_normal,max_pool2d_same,batch_norm,l2_normalize"
# TensorFlow and Keras made unimportable: find_spec still answers (torch._dynamo probes for TF
# with find_spec and must not see an exception), importing raises ImportError.
BLOCK_TF = """
import importlib.abc, importlib.machinery, sys
class Refuse(importlib.abc.Loader):
    def create_module(self, spec):
        raise ImportError(f"No module named {spec.name!r}")
    def exec_module(self, module):
        pass
class Absent(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.partition(".")[0] in ("tensorflow", "keras"):
            return importlib.machinery.ModuleSpec(name, Refuse())
sys.meta_path.insert(0, Absent())
from parity.cli import main
code = main(sys.argv[1:])
assert "tensorflow" not in sys.modules and "keras" not in sys.modules
sys.exit(code)
"""


def _same(case):
    return {k: v for k, v in case.items() if k not in ("duration_s", "warnings")}


def _poisoned(tmp_path):
    """An environment in which importing TensorFlow in any process (the workers' server, the
    workers, Keras on torch's own interpreter) raises an error no ImportError handler hides."""
    (tmp_path / "poison" / "tensorflow").mkdir(parents=True)
    (tmp_path / "poison" / "tensorflow" / "__init__.py").write_text(
        "raise RuntimeError('tensorflow was imported')\n")
    return {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(tmp_path / "poison"), *filter(None, [os.environ.get("PYTHONPATH")])])}


def test_reference_run_without_tensorflow_gives_the_live_verdicts(tmp_path):
    flags = ["--ops", OPS, "--examples", "5", "--seed", "3"]
    assert cli.main(["record", "--out", str(tmp_path / "tf.npz")] + flags) == 0
    assert cli.main(["run", "--out", str(tmp_path / "live")] + flags) == 0
    live = load_report(tmp_path / "live" / "latest.json")
    for workers, env in (("1", None), ("2", _poisoned(tmp_path))):
        out = subprocess.run([sys.executable, "-c", BLOCK_TF, "run", "--reference",
                              str(tmp_path / "tf.npz"), "--out", str(tmp_path / workers),
                              "--workers", workers], capture_output=True, text=True, env=env)
        assert out.returncode == 0, out.stderr[-2000:] + out.stdout[-2000:]
        ref = load_report(tmp_path / workers / "latest.json")
        assert ref["run"]["reference"].endswith("tf.npz")
        assert ref["run"]["reference_packages"]["tensorflow-cpu"]
        by_id = {c["id"]: _same(c) for c in ref["cases"]}
        assert len(by_id) == len(live["cases"]) > 40
        assert all(by_id[c["id"]] == _same(c) for c in live["cases"])
        assert ref["divergences"] == live["divergences"]


def test_a_bad_archive_is_a_one_line_error(tmp_path, capsys):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not an archive")
    assert cli.main(["run", "--reference", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "cannot read reference archive" in err and len(err.strip().splitlines()) == 1


def test_float32_results_are_stored_as_float32_and_read_back_exactly(tmp_path):
    """TF's float32 (and half-precision) outputs are stored as float32, the same values; float64
    outputs stay float64."""
    import numpy as np

    from parity.flows.record import record
    from parity.report.archive import Archive
    from parity.exec.runner import tf_result

    config = {"rank": 1, "batch": 2, "in_channels": 2, "out_channels": 3, "spatial": [7],
              "kernel": [3], "stride": [2], "dilation": [1]}
    plan = [("conv1d_same", "port", dict(config, dtype=d), 4) for d in ("float32", "float64")]
    assert record(plan, tmp_path / "a.npz", {})
    archive = Archive(tmp_path / "a.npz")
    stored = {c[2]["dtype"]: {n: archive._array(f"{key}/{n}").dtype
                              for n in archive.manifest["entries"][key]["arrays"]}
              for c in archive.manifest["cases"] for key in [c[4]]}
    assert set(stored["float32"].values()) == {np.dtype("float32")}
    assert set(stored["float64"].values()) == {np.dtype("float64")}
    for op, variant, cfg, seed in plan:
        live, _, _ = tf_result(op, variant, cfg, seed)
        kept, _, _ = archive.tf_result(op, variant, cfg, seed)
        assert kept.keys() == live.keys()
        for n in live:
            assert kept[n].dtype == np.float64 and np.array_equal(kept[n], live[n])
