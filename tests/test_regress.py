"""Replay reproduces a report bit for bit; compare names every kind of regression."""
import copy
import json

import pytest

from parity import cli
from parity.report import load_report
from parity.flows.session import run_replay, run_sweep

OPS = ["conv2d_same", "avg_pool1d_same", "init_he_uniform", "l2_normalize"]


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    """A real run report and its replay on the same environment."""
    out = tmp_path_factory.mktemp("reports")
    _, base = run_sweep(OPS, examples=3, seed=4, dtypes=("float32", "float64"),
                        out_dir=out / "base")
    _, again = run_replay(load_report(base), str(base), out_dir=out / "again")
    return base, again


def test_replay_reproduces_every_id_and_metric_bit_for_bit(pair):
    base, again = (load_report(p) for p in pair)
    assert again["run"]["command"] == "replay" and again["run"]["baseline"] == str(pair[0])
    assert [c["id"] for c in base["cases"]] == [c["id"] for c in again["cases"]]
    assert len(base["cases"]) > 20
    for b, a in zip(base["cases"], again["cases"]):
        for key in ("status", "outputs", "max_abs_diff", "max_bound_ratio", "divergence", "config"):
            assert a[key] == b[key], (b["id"], key)


def _write(tmp_path, name, report):
    path = tmp_path / name
    path.write_text(json.dumps(report))
    return str(path)


def test_untouched_pair_exits_0(pair, capsys):
    assert cli.main(["compare", str(pair[0]), str(pair[1])]) == 0
    assert "0 regression(s)" in capsys.readouterr().out


def test_each_injected_regression_is_named(pair, tmp_path, capsys):
    base = load_report(pair[0])
    cur = copy.deepcopy(load_report(pair[1]))
    passing = [c for c in cur["cases"] if c["status"] == "pass"]
    failed, grown, errored, dropped = passing[0], passing[1], passing[2], passing[3]
    failed["status"] = "fail"
    errored["status"], errored["error"] = "error", "harness: RuntimeError: injected"
    name, m = next(iter(grown["outputs"].items()))
    m["max_abs_diff"] = m["max_abs_diff"] * 100 + 1e-30
    m["bound_ratio"] = max(m["bound_ratio"] * 100, 0.5)
    cur["cases"].remove(dropped)
    code = cli.main(["compare", _write(tmp_path, "b.json", base), _write(tmp_path, "c.json", cur)])
    out = capsys.readouterr().out
    assert code == 1, out
    for kind, case in (("new failure", failed), ("new error", errored), ("growth", grown),
                       ("missing", dropped)):
        assert any(kind in line and case["id"] in line for line in out.splitlines()), (kind, out)
    # the grown output counts twice: max_abs_diff 100x and bound_ratio 100x
    assert f"{name}.max_abs_diff" in out and f"{name}.bound_ratio" in out
    assert "5 regression(s)" in out


def test_growth_within_rounding_noise_is_not_a_regression(pair, tmp_path):
    cur = copy.deepcopy(load_report(pair[1]))
    case = next(c for c in cur["cases"] if c["status"] == "pass" and c["op"] == "conv2d_same")
    for m in case["outputs"].values():
        m["max_abs_diff"] *= 100
        m["bound_ratio"] = min(m["bound_ratio"] * 100, 0.2)
    assert cli.main(["compare", str(pair[0]), _write(tmp_path, "c.json", cur)]) == 0


def test_not_reproduced_and_environment_are_shown(pair, tmp_path, capsys):
    cur = copy.deepcopy(load_report(pair[1]))
    cur["divergences"].append({"id": "gone", "exercised": 3, "reproduced": 0,
                               "intermittent": False, "not_reproduced": True})
    cur["environment"]["packages"]["tensorflow-cpu"] = "2.20.0"
    cur["environment"]["device"] = "cuda"
    path = _write(tmp_path, "c.json", cur)
    assert cli.main(["compare", str(pair[0]), path]) == 0
    out = capsys.readouterr().out
    assert "not_reproduced" in out and "tensorflow-cpu" in out and "-> 2.20.0" in out
    assert "ENVIRONMENT DIFFERS" in out and "device" in out
    assert cli.main(["compare", str(pair[0]), path, "--fail-on", "not_reproduced"]) == 1


def test_older_schema_is_upgraded_and_bad_reports_exit_2(pair, tmp_path, capsys):
    old = json.loads(open(pair[0]).read())
    old["schema_version"] = 1
    for d in old["divergences"]:
        del d["intermittent"]
    assert cli.main(["compare", _write(tmp_path, "old.json", old), str(pair[1])]) == 0
    newer = dict(old, schema_version=9)
    for argv in (["compare", _write(tmp_path, "new.json", newer), str(pair[1])],
                 ["compare", str(tmp_path / "absent.json"), str(pair[1])],
                 ["compare", str(pair[0]), str(pair[1]), "--fail-on", "speed:2x"],
                 ["replay", str(tmp_path / "absent.json")]):
        capsys.readouterr()
        assert cli.main(argv) == 2, argv
        err = capsys.readouterr().err
        assert err.startswith("parity: error:") and len(err.strip().splitlines()) == 1, err


def test_a_case_only_in_the_current_report_is_new_coverage_unless_it_fails(pair, tmp_path,
                                                                          capsys):
    base = copy.deepcopy(load_report(pair[0]))
    cur = load_report(pair[1])
    passing = [c for c in base["cases"] if c["status"] == "pass"]
    added, added_failing = passing[0], passing[1]
    base["cases"] = [c for c in base["cases"] if c not in (added, added_failing)]
    cur = copy.deepcopy(cur)
    next(c for c in cur["cases"] if c["id"] == added_failing["id"])["status"] = "fail"
    code = cli.main(["compare", _write(tmp_path, "b.json", base), _write(tmp_path, "c.json", cur)])
    out = capsys.readouterr().out
    assert code == 1 and "1 regression(s)" in out, out
    assert any("new case failing" in line and added_failing["id"] in line
               for line in out.splitlines()), out
    assert any("new case" in line and added["id"] in line and "failing" not in line
               for line in out.splitlines()), out


def test_compare_names_the_environment_scoped_entries_that_apply_to_one_run_only(pair, tmp_path,
                                                                               capsys):
    base = copy.deepcopy(load_report(pair[0]))
    cur = copy.deepcopy(load_report(pair[1]))
    # two machines built here, whatever this one is: an AVX-512 CPU with oneDNN on, and one
    # with it off (an AVX2-only CPU's default)
    avx512 = {"onednn": True, "isa": "avx512_core_vnni", "onednn_dtypes": ["float32", "bfloat16"],
              "cpu": ["avx2", "avx512bw", "avx512f", "avx512_vnni"]}
    avx2 = {"onednn": False, "isa": "", "onednn_dtypes": [], "cpu": ["avx2"]}
    base["environment"]["facts"] = dict(base["environment"]["facts"], **avx512)
    cur["environment"]["facts"] = dict(cur["environment"]["facts"], **avx2)
    code = cli.main(["compare", _write(tmp_path, "b.json", base), _write(tmp_path, "c.json", cur)])
    out = capsys.readouterr().out
    assert code == 0, out
    scoped = [line for line in out.splitlines() if "-> does not apply" in line]
    assert any(line.strip().startswith("tf-onednn-") for line in scoped), out
    # TF's own kernels take every dtype on the second machine: the refusal entries widen
    assert any(line.strip().startswith("tf-cpu-conv3d-dilation: applies to float16, float64 "
                                       "-> applies") for line in out.splitlines()), out
    assert "scoped by the environment that apply to one run only" in out


def test_scope_changes_say_unknown_for_facts_an_old_report_lacks():
    from parity.spec.divergences import Divergence
    from parity.flows.regress import scope_changes

    entry = Divergence(id="x", ops=["op"], statuses=["fail"], mechanism="m", magnitude="1",
                       environment="version_in(torch, '<2.12')")
    assert scope_changes({"facts": {"onednn": True}}, {"facts": {"torch": "2.11.0"}},
                         [entry]) == ["x: unknown -> applies (version_in(torch, '<2.12'))"]
    assert scope_changes({}, {"facts": {"torch": "2.11.0"}}, [entry]) == []


def test_a_framework_only_one_run_loaded_is_no_environment_difference():
    from parity.flows.regress import environment_differences

    tf_only = {"threads": {"tensorflow": {"intra_op_threads": 1}}}
    both = {"threads": {"tensorflow": {"intra_op_threads": 1}, "torch": {"intra_op_threads": 1}}}
    assert environment_differences(tf_only, both) == []
    changed = {"threads": {"tensorflow": {"intra_op_threads": 2}, "torch": {"intra_op_threads": 1}}}
    assert environment_differences(tf_only, changed) == [
        "threads: {'tensorflow': {'intra_op_threads': 1}} -> "
        "{'tensorflow': {'intra_op_threads': 2}}"]
