"""Audit verdicts: no false pass where TF cannot judge, crashes isolated, failure classes."""
import pytest

from parity import cli
from parity.flows.auditing import run_audit, signature
from parity.spec.divergences import Registry
from parity.report import load_report, validate
from parity.exec.runner import run_case, tf_result

DILATED = {"rank": 2, "batch": 2, "in_channels": 2, "out_channels": 2, "spatial": [6, 5],
           "kernel": [3, 2], "stride": [1, 1], "dilation": [2, 1], "groups": 1, "bias": True,
           "dtype": "float32"}
# float64: TF keeps it on its own kernels on every CPU (oneDNN, where on, places the windows right)
SHIFTED3D = {"rank": 3, "batch": 1, "in_channels": 1, "out_channels": 2, "spatial": [3, 2, 2],
             "kernel": [1, 1, 1], "stride": [3, 1, 1], "dilation": [1, 1, 1], "groups": 1,
             "bias": True, "dtype": "float64"}


def _refusing_tf(op, variant, config, seed):
    """TF's result with its gradients refused, as TF's CPU kernels do for dilation."""
    out, _, warns = tf_result(op, "port", config, seed)  # an audit's TF side is the port's
    return {"y": out["y"]}, "gradients: UnimplementedError: (simulated refusal)", warns


def test_doubled_dw_where_tf_refuses_the_gradient_is_caught_by_the_reference():
    from audit_candidates import dw_doubled_where_tf_refuses

    rec = run_case("conv2d_same", "audit", DILATED, 4, candidate=dw_doubled_where_tf_refuses,
                   divergences=Registry.load(), tf_recorded=_refusing_tf)
    assert rec["status"] == "fail" and rec["outputs"]["dw"]["judge"] == "reference"
    assert rec["outputs"]["dw"]["mismatched"] > 0 and rec["outputs"]["y"]["judge"] == "tf"
    assert {n: m["judge"] for n, m in rec["outputs"].items() if n != "y"} == \
        {"dx": "reference", "dw": "reference", "db": "reference"}
    good = run_case("conv2d_same", "audit", DILATED, 4, candidate=cli.load_candidate(
        "parity.ports:conv2d_same"), divergences=Registry.load(), tf_recorded=_refusing_tf)
    assert good["status"] == "rejected_tf" and good["outputs"]["dw"]["mismatched"] == 0


def test_zero_where_tf_conv3d_is_known_wrong_is_caught_by_the_reference():
    from audit_candidates import zero_where_tf_conv3d_shifts

    registry = Registry.load()
    rec = run_case("conv3d_same", "audit", SHIFTED3D, 2, candidate=zero_where_tf_conv3d_shifts,
                   divergences=registry)
    assert rec["status"] == "fail" and rec["divergence"] is None
    assert rec["outputs"]["y"]["judge"] == "reference" and rec["outputs"]["y"]["mismatched"] > 0
    port = run_case("conv3d_same", "audit", SHIFTED3D, 2,
                    candidate=cli.load_candidate("parity.ports:conv3d_same"), divergences=registry)
    # TF is the side that is wrong here: the port agrees with the reference
    assert port["outputs"]["y"]["judge"] == "reference" and port["outputs"]["y"]["mismatched"] == 0
    assert port["status"] in ("known_divergence", "pass")


@pytest.mark.parametrize("candidate,op,dtypes,shown", [
    # TF judges dw where its kernels give the gradient (oneDNN does), the reference elsewhere
    ("audit_candidates:dw_doubled_where_tf_refuses", "conv2d_same", "float32,float64",
     "dw value mismatch"),
    # float64: TF's own Conv3D on every CPU, whose windows shift (the reference judges)
    ("audit_candidates:zero_where_tf_conv3d_shifts", "conv3d_same", "float64",
     "judged by the float64 reference")])
def test_contrived_false_passes_fail_the_audit(capsys, tmp_path, candidate, op, dtypes, shown):
    code = cli.main(["audit", op, candidate, "--examples", "40", "--dtypes", dtypes,
                     "--seed", "3", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 1 and "FAIL" in out and shown in out, out
    report = load_report(tmp_path / "latest.json")
    assert report["audit"]["judged_outputs"]["reference"] > 0


def test_the_port_passes_and_says_how_outputs_were_judged(capsys, tmp_path):
    code = cli.main(["audit", "conv2d_same", "parity.ports:conv2d_same", "--examples", "25",
                     "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0 and "against the float64 reference" in out and "0 not judged" in out
    a = load_report(tmp_path / "latest.json")["audit"]
    assert a["verdict"] == "pass" and a["judged_outputs"]["tf"] > 0


def test_the_worker_writes_no_core_files(tmp_path):
    """An aborting candidate must not keep its dead worker dumping a core while the clock runs."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_CORE)
    if hard == 0:
        pytest.skip("core files are off for this process already: nothing to show")
    resource.setrlimit(resource.RLIMIT_CORE, (hard, hard))  # the worker inherits it
    try:
        report, _ = run_audit("conv2d_same", "audit_candidates:correct_if_no_core_files",
                              "audit_candidates:correct_if_no_core_files", examples=2,
                              seed=0, dtypes=["float32"], out_dir=tmp_path, max_classes=0)
    finally:
        resource.setrlimit(resource.RLIMIT_CORE, (soft, hard))
    assert [c["status"] for c in report["cases"]] == ["pass", "pass"], \
        [c.get("error") for c in report["cases"]]


@pytest.mark.parametrize("name,expected", [
    ("exits", "SystemExit"), ("hangs", "timed out"), ("aborts", "SIGABRT"),
    ("segfaults", "SIGSEGV"), ("hard_exits", "exited with code 7"),
    ("eats_memory", "candidate raised")])
def test_a_misbehaving_candidate_is_an_error_and_the_report_is_complete(tmp_path, name, expected):
    report, path = run_audit("conv2d_same", f"audit_candidates:{name}", f"audit_candidates:{name}",
                             examples=3, seed=0, dtypes=["float32"], out_dir=tmp_path,
                             case_timeout=1 if name == "hangs" else 60, memory_gib=8,
                             max_classes=0)
    validate(load_report(path))
    assert report["complete"] and len(report["cases"]) == report["run"]["configs"] == 3
    assert all(c["status"] == "error" and expected in c["error"] for c in report["cases"]), \
        [c["error"] for c in report["cases"]]
    assert report["audit"]["verdict"] == "fail" and report["audit"]["classes"][0]["count"] == 3


def test_a_crash_costs_one_case_only(tmp_path):
    report, _ = run_audit("conv2d_same", "audit_candidates:crashes_sometimes", "c", examples=12,
                          seed=1, dtypes=["float32"], out_dir=tmp_path, max_classes=0)
    statuses = {(c["config"]["batch"] == 1, c["status"]) for c in report["cases"]}
    assert (True, "error") in statuses and (False, "pass") in statuses
    assert {s for batch1, s in statuses if not batch1} <= {"pass", "rejected_tf"}
    assert report["run"]["worker_restarts"] >= 1


@pytest.mark.parametrize("spec,message", [
    ("audit_candidates_missing:fn", "cannot import"),
    ("parity.spec.recipes:nothing", "no callable")])
def test_an_unusable_candidate_is_exit_2_in_one_line(capsys, tmp_path, spec, message):
    assert cli.main(["audit", "conv2d_same", spec, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1


def test_a_module_that_exits_on_import_is_exit_2(capsys, tmp_path, monkeypatch):
    (tmp_path / "exits_on_import.py").write_text("import sys\nsys.exit(5)\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert cli.main(["audit", "conv2d_same", "exits_on_import:fn", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert "sys.exit(5)" in err and len(err.splitlines()) == 1


def test_forward_only_module_and_dtype_flag(capsys, tmp_path):
    code = cli.main(["audit", "conv2d_same", "audit_candidates:forward_numpy", "--forward-only",
                     "--examples", "10", "--dtypes", "float32", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0 and "forward only" in out
    report = load_report(tmp_path / "latest.json")
    assert all(set(c["outputs"]) <= {"y"} for c in report["cases"])
    case = report["cases"][0]
    assert "forward_only=True" in case["repro"]
    namespace = {}
    exec(case["repro"], namespace)  # the snippet re-runs the case with the audit's options
    assert (namespace["record"]["id"], namespace["record"]["status"]) == (case["id"], case["status"])
    code = cli.main(["audit", "conv2d_same", "audit_candidates:Conv2dSameModule",
                     "--examples", "10", "--out", str(tmp_path)])
    assert code == 0, capsys.readouterr().out
    capsys.readouterr()
    cli.main(["audit", "conv2d_same", "audit_candidates:returns_float32", "--examples", "6",
              "--dtypes", "float16", "--out", str(tmp_path)])
    assert "returned another dtype" in capsys.readouterr().out


def test_an_output_that_ignores_the_weight_has_zero_gradient_not_a_harness_error():
    from audit_candidates import ignores_weight

    rec = run_case("conv2d_same", "audit", dict(DILATED, dilation=[1, 1]), 4,
                   candidate=ignores_weight)
    assert rec["status"] == "fail" and rec["error"] is None
    assert rec["outputs"]["dw"]["torch_value"] == 0.0


def test_failure_classes_are_grouped_and_each_has_a_minimal_repro(tmp_path):
    report, _ = run_audit("conv2d_same", "parity.spec.recipes:naive_conv2d_same", "naive",
                          examples=30, seed=0, dtypes=["float32", "float64"], out_dir=tmp_path)
    classes = report["audit"]["classes"]
    by_id = {c["id"]: c for c in report["cases"]}
    assert len(classes) >= 2 and sum(c["count"] for c in classes) == \
        sum(c["status"] in ("fail", "error") for c in report["cases"] if not c.get("minimal"))
    for c in classes:
        shown = by_id[c["minimal_case"] or c["example_case"]]
        assert signature(shown) == c["signature"]


def test_nonfinite_semantics_choose_the_contract(tmp_path):
    spec = "audit_candidates:ieee_max_pool2d_same"
    kw = dict(examples=25, seed=2, dtypes=["float32"], out_dir=tmp_path, max_classes=0)
    tf_mode, _ = run_audit("max_pool2d_same", spec, spec, **kw)
    failing = [c for c in tf_mode["cases"] if c["status"] == "fail"]
    assert failing and all(c["config"]["fill"] == "specials" for c in failing)
    assert all("non-finite" in signature(c) for c in failing)
    ieee, _ = run_audit("max_pool2d_same", spec, spec, nonfinite="ieee", **kw)
    specials = [c for c in ieee["cases"] if c["config"]["fill"] == "specials"]
    assert ieee["audit"]["verdict"] == "pass" and specials
    # cases whose inputs drew NaN/inf are judged by the IEEE reference (a small input may draw none)
    assert any(all(m["judge"] == "reference" for m in c["outputs"].values()) for c in specials)
    skip, _ = run_audit("max_pool2d_same", spec, spec, nonfinite="skip", **kw)
    assert skip["audit"]["verdict"] == "pass" and len(skip["cases"]) == 25
    assert not [c for c in skip["cases"] if c["config"]["fill"] == "specials"]


def test_kernel_size_keyword_and_a_wrong_module_candidate(capsys, tmp_path):
    assert cli.main(["audit", "avg_pool2d_same", "audit_candidates:avg_pool2d_kernel_size",
                     "--examples", "15", "--out", str(tmp_path)]) == 0
    capsys.readouterr()
    assert cli.main(["audit", "conv2d_same", "audit_candidates:HalfKernelPadding",
                     "--examples", "25", "--out", str(tmp_path)]) == 1
    assert "FAIL" in capsys.readouterr().out
