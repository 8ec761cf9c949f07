"""The CLI's exit codes and one-line errors, audit verdicts, interrupted runs."""
import json

import pytest

from parity import cli
from parity.report import load_report


def run(capsys, *argv):
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_list_needs_no_framework(capsys):
    code, out, _ = run(capsys, "list", "--verbose")
    assert code == 0 and "conv2d_same" in out and "audit candidate" in out


@pytest.mark.parametrize("argv, message", [
    (("run", "--ops", "conv9d"), "unknown op 'conv9d'; known ops: avg_pool1d_same, "),
    (("run", "--dtypes", "int8"), "unknown dtype"),
    (("run", "--examples", "0"), "--examples must be between 1 and 100,000"),
    (("run", "--bogus"), "unrecognized arguments"),
    (("audit", "conv2d_same", "no_such_module_xyz:fn"), "cannot import candidate module"),
    (("audit", "conv2d_same", "parity.spec.recipes"), "must look like package.module:function"),
    (("audit", "conv2d_same", "parity.spec.recipes:nothing"), "no callable"),
    (("audit", "conv9d", "parity.spec.recipes:naive_conv2d_same"), "unknown op")])
def test_bad_input_exits_2_with_one_line(capsys, argv, message):
    code, out, err = run(capsys, *argv)
    assert code == 2 and message in err and err.count("\n") == 1


def test_run_writes_a_valid_report(capsys, tmp_path):
    code, out, _ = run(capsys, "run", "--ops", "conv2d_same", "--variants", "port",
                       "--examples", "4", "--dtypes", "float32", "--out", str(tmp_path))
    report = load_report(tmp_path / "latest.json")
    assert report["complete"] and len(report["cases"]) == 4
    from parity.report.build import unexpected
    assert code == (1 if any(unexpected(c) for c in report["cases"]) else 0)


def test_interrupted_run_leaves_a_valid_incomplete_report(capsys, tmp_path, monkeypatch):
    import parity.flows.session as session
    real, calls = session.run_case, []

    def interrupt_on_third(*a, **k):
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(*a, **k)

    monkeypatch.setattr(session, "run_case", interrupt_on_third)
    code, out, _ = run(capsys, "run", "--ops", "conv1d_same", "--examples", "5", "--dtypes",
                       "float32", "--out", str(tmp_path))
    report = load_report(tmp_path / "latest.json")
    assert code == 130 and report["complete"] is False and report["run"]["interrupted"]
    assert len(report["cases"]) == 2


def test_audit_of_the_port_passes(capsys, tmp_path):
    code, out, _ = run(capsys, "audit", "conv2d_same", "parity.ports:conv2d_same",
                       "--examples", "30", "--out", str(tmp_path))
    assert code == 0 and "pass" in out
    assert load_report(tmp_path / "latest.json")["audit"]["verdict"] == "pass"


@pytest.mark.parametrize("candidate", ["parity.spec.recipes:naive_conv2d_same",
                                       "parity.spec.recipes:seed_conv2d_same_padding"])
def test_audit_of_a_wrong_recipe_fails_with_a_minimal_config(capsys, tmp_path, candidate):
    code, out, _ = run(capsys, "audit", "conv2d_same", candidate, "--examples", "40",
                       "--out", str(tmp_path))
    report = load_report(tmp_path / "latest.json")
    minimal = next(c for c in report["cases"] if c.get("minimal"))
    assert code == 1 and "minimal config (shrunk by Hypothesis)" in out and "parity.repro(" in out
    assert report["audit"]["verdict"] == "fail" and report["audit"]["minimal_case"] == minimal["id"]
    namespace = {}
    exec(minimal["repro"], namespace)  # the printed snippet reproduces the same case and verdict
    assert (namespace["record"]["id"], namespace["record"]["status"]) == \
        (minimal["id"], minimal["status"])
    cfg = minimal["config"]
    # shrunk: tiny batch and channels, the smallest kernel that shows the bug (2: an even
    # kernel padded symmetrically; 3 with stride 2: the window start)
    assert cfg["batch"] == 1 and cfg["in_channels"] == 1 and max(cfg["kernel"]) <= 3
    assert json.loads(json.dumps(cfg)) == cfg


def test_sigterm_mid_run_leaves_a_valid_incomplete_report(tmp_path):
    import os
    import signal
    import time

    from procs import ParityProcess

    # two ops: planning 400 configs of every op took 30 s before the first case
    proc = ParityProcess(["run", "--examples", "400", "--ops", "conv2d_same,max_pool2d_same",
                          "--out", str(tmp_path)], env={**os.environ, "PARITY_THREADS": "1"})
    assert proc.stderr.readline().startswith(b"parity: running")  # planned; cases start now
    time.sleep(3)
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=120)
    report = load_report(tmp_path / "latest.json")
    assert proc.returncode == 130 and report["complete"] is False
    assert report["run"]["interrupted"] is True and 0 < len(report["cases"]) < 1600
