"""--workers: the same report as one process; a dead worker loses only its case; shards merge."""
import os
import signal
from pathlib import Path

import pytest

from parity import cli
from parity.report import load_report
from parity.flows.session import merge_reports, run_sweep

OPS = ["conv2d_same", "init_he_uniform"]
ARGS = dict(examples=8, seed=5, dtypes=("float32", "float64"))


def _same(case: dict) -> dict:
    return {k: v for k, v in case.items() if k not in ("duration_s", "warnings")}


@pytest.fixture(scope="module")
def one(tmp_path_factory):
    return run_sweep(OPS, out_dir=tmp_path_factory.mktemp("one"), **ARGS)[0]


def test_two_workers_give_the_one_process_report(one, tmp_path):
    two, _ = run_sweep(OPS, out_dir=tmp_path, workers=2, **ARGS)
    assert two["complete"] and two["run"]["workers"] == 2
    assert [_same(c) for c in two["cases"]] == [_same(c) for c in one["cases"]]
    assert two["divergences"] == one["divergences"] and two["summary"] == one["summary"]


def _grandchildren() -> list[int]:
    """Processes whose parent is a child of this one (the xdist workers)."""
    parents = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    children = {p for p, pp in parents.items() if pp == os.getpid()}
    return sorted(p for p, pp in parents.items() if pp in children)


def test_a_killed_worker_loses_only_its_case(one, tmp_path):
    killed = []

    def kill_once(done, total):
        if done >= 4 and not killed and (pids := _grandchildren()):
            os.kill(pids[0], signal.SIGKILL)
            killed.append(pids[0])
    report, _ = run_sweep(OPS, out_dir=tmp_path, workers=2, progress=kill_once, **ARGS)
    assert killed, "no worker was found to kill"
    assert [c["id"] for c in report["cases"]] == [c["id"] for c in one["cases"]]
    errors = [c for c in report["cases"] if c["status"] == "error"]
    assert len(errors) <= 1 and all("crashed" in c["error"] for c in errors), errors
    expected = {c["id"]: _same(c) for c in one["cases"]}
    assert all(_same(c) == expected[c["id"]] for c in report["cases"] if c["status"] != "error")
    assert report["complete"]


def test_shards_partition_the_plan_and_merge_back(one, tmp_path, capsys):
    paths = [run_sweep(OPS, out_dir=tmp_path / str(i), shard=(i, 2), **ARGS)[1] for i in (1, 2)]
    shards = [load_report(p) for p in paths]
    ids = [{c["id"] for c in s["cases"]} for s in shards]
    assert ids[0] and ids[1] and not ids[0] & ids[1]
    assert ids[0] | ids[1] == {c["id"] for c in one["cases"]}
    merged, _ = merge_reports([(str(p), s) for p, s in zip(paths, shards)], out_dir=tmp_path)
    assert merged["complete"] and merged["divergences"] == one["divergences"]
    by_id = {c["id"]: _same(c) for c in merged["cases"]}
    assert all(by_id[c["id"]] == _same(c) for c in one["cases"])
    assert cli.main(["merge", str(paths[0]), "--out", str(tmp_path / "m")]) == 1
    assert "a shard is missing" in capsys.readouterr().out


@pytest.mark.parametrize("argv", [["run", "--shard", "3/2"], ["run", "--shard", "x"],
                                  ["run", "--workers", "0"]])
def test_bad_worker_and_shard_flags_exit_2(argv, capsys):
    assert cli.main(argv + ["--examples", "1", "--ops", "conv1d_same"]) == 2
    assert capsys.readouterr().err.startswith("parity: error:")
