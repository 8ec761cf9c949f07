"""parity matrix: settings x repeats against one TF archive, and the bitwise run-to-run check."""
import json

import pytest

from parity import cli

from parity.flows import matrix


def _case(case_id, op, status="pass", ratio=0.1, digests=None):
    return {"id": case_id, "op": op, "status": status, "max_bound_ratio": ratio,
            "error": None, "divergence": None,
            "outputs": {n: {"bound_ratio": ratio, "torch_digest": d}
                        for n, d in (digests or {}).items()}}


def _report(*cases):
    return {"cases": list(cases)}


def test_identical_digests_are_bitwise_repeatable():
    a = _report(_case("1", "conv", digests={"y": "a" * 16, "dx": "b" * 16}))
    b = _report(_case("1", "conv", digests={"y": "a" * 16, "dx": "b" * 16}))
    assert matrix.repeatability([a, b], "conv") == {"compared": 1, "differing": 0,
                                                     "outputs": []}


def test_a_changed_output_between_runs_is_caught_and_named():
    """The comparison can fail: one output's bytes changed in the second run."""
    a = _report(_case("1", "conv", digests={"y": "a" * 16, "dx": "b" * 16}),
                _case("2", "conv", digests={"y": "c" * 16}))
    b = _report(_case("1", "conv", digests={"y": "a" * 16, "dx": "f" * 16}),
                _case("2", "conv", digests={"y": "c" * 16}))
    assert matrix.repeatability([a, b], "conv") == {"compared": 2, "differing": 1,
                                                     "outputs": ["dx"]}
    cell = matrix.cell([a, b], "conv")
    assert cell["bitwise"]["differing"] == 1 and cell["counts"] == {"pass": 2}


def test_a_cell_counts_unexpected_cases_in_every_run_and_the_worst_agreeing_ratio():
    a = _report(_case("1", "pool", ratio=0.5), _case("2", "pool", "known_divergence", 9e9))
    b = _report(_case("1", "pool", "fail", 3.0), _case("2", "pool", "known_divergence", 9e9))
    cell = matrix.cell([a, b], "pool")
    assert cell["unexpected"] == 1 and cell["worst_agreeing_ratio"] == 0.5
    assert cell["bitwise"] == {"compared": 0, "differing": 0, "outputs": []}  # no digests


def test_the_matrix_on_this_cpu(tmp_path, capsys):
    """Record once, run twice on the CPU, one matrix: the same bytes both times."""
    out = tmp_path / "m"
    code = cli.main(["matrix", "--ops", "conv1d_same,batch_norm", "--variants", "port",
                     "--examples", "2", "--dtypes", "float32", "--settings", "cpu",
                     "--out", str(out)])
    assert code == 0, capsys.readouterr()
    m = json.loads((out / "matrix.json").read_text())
    assert m["ops"] == ["batch_norm", "conv1d_same"] and m["complete"] and m["unexpected"] == 0
    assert [s["name"] for s in m["settings"]] == ["cpu"]
    assert m["settings"][0]["reports"] == ["cpu-1/latest.json", "cpu-2/latest.json"]
    for op in m["ops"]:
        c = m["cells"][op]["cpu"]
        assert c["cases"] == 2 and c["bitwise"]["compared"] == 2
        assert c["bitwise"]["differing"] == 0
    page = (out / "matrix.html").read_text()
    assert 'id="matrix"' in page and "bitwise identical" in page
    assert 'href="cpu-2/latest.html"' in page and (out / "cpu-2" / "latest.html").exists()


@pytest.mark.parametrize("argv, message", [
    (["--settings", "cuda-tf32-on"], "cuda-tf32-on need CUDA: torch"),
    (["--settings", "cpu,warp"], "unknown setting(s) warp; known: cpu, cuda-tf32-off"),
    (["--repeats", "0"], "--repeats must be at least 1"),
    (["--reference", "x.npz", "--examples", "3"], "--examples cannot be used with --reference")])
def test_bad_matrix_input_exits_2_with_one_line(tmp_path, capsys, argv, message):
    code = cli.main(["matrix", "--out", str(tmp_path), *argv])
    err = capsys.readouterr().err
    assert code == 2 and message in err and err.count("\n") == 1, err


def test_a_run_that_fails_ends_the_matrix_with_its_exit_code_and_last_line(tmp_path, capsys):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not an archive")
    code = cli.main(["matrix", "--reference", str(bad), "--settings", "cpu",
                     "--out", str(tmp_path / "m")])
    err = capsys.readouterr().err
    assert code == 2 and "the cpu run 1 exited 2: parity: error: cannot read reference " \
        "archive" in err
    assert not (tmp_path / "m" / "matrix.json").exists()


def test_digests_are_recorded_only_when_asked(tmp_path):
    flags = ["--ops", "conv1d_same", "--variants", "port", "--examples", "1", "--dtypes",
             "float32"]
    assert cli.main(["run", "--digests", "--out", str(tmp_path / "a"), *flags]) == 0
    assert cli.main(["run", "--out", str(tmp_path / "b"), *flags]) == 0
    a = json.loads((tmp_path / "a" / "latest.json").read_text())["cases"][0]["outputs"]
    b = json.loads((tmp_path / "b" / "latest.json").read_text())["cases"][0]["outputs"]
    assert all(len(m["torch_digest"]) == 16 for m in a.values()) and set(a) >= {"y", "dx"}
    assert not any("torch_digest" in m for m in b.values())
