"""SIGHUP (a closed terminal, a dropped SSH session) stops a command as SIGTERM does: the cases
finished so far are kept in a valid report with ``complete: false`` and ``run.signal:
"SIGHUP"``, and the exit code is 129 (128 + SIGHUP), documented in the README."""
import os
import signal
import time

import pytest

from parity.report import load_report
from procs import ParityProcess


def _progressed(line: str) -> bool:   # "parity: running N cases", then "parity: i/N"
    return line.startswith("parity: ") and "/" in line


def _hang_up_after_progress(proc, seconds: float = 2.0, reached=_progressed) -> tuple[str, str]:
    """SIGHUP once the command's stderr shows a line ``reached`` accepts (by default progress
    past its first case), and ``seconds`` more."""
    try:
        for line in proc.stderr:
            if reached(line):
                break
        time.sleep(seconds)
        proc.send_signal(signal.SIGHUP)
        return proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()


@pytest.mark.parametrize("workers", [1, 2])
def test_sighup_during_run_leaves_a_valid_partial_report_and_exits_129(tmp_path, workers):
    proc = ParityProcess(["run", "--ops", "conv2d_same,max_pool2d_same", "--examples", "400",
                          "--workers", str(workers), "--out", str(tmp_path)],
                         env={**os.environ, "PARITY_THREADS": "1"}, text=True)
    out, err = _hang_up_after_progress(proc)
    assert proc.returncode == 129, (out, err[-2000:])
    report = load_report(tmp_path / "latest.json")  # validated against the schema
    assert report["complete"] is False and report["run"]["interrupted"] is True
    assert report["run"]["signal"] == "SIGHUP"
    assert 0 < len(report["cases"]) < 1600


def test_sighup_during_record_keeps_the_cases_recorded(tmp_path):
    from parity.report.archive import Archive

    target = tmp_path / "tf.npz"
    proc = ParityProcess(["record", "--ops", "conv3d_same", "--examples", "200", "--out",
                          str(target)], text=True)
    out, err = _hang_up_after_progress(proc, seconds=1.0)
    assert proc.returncode == 129, (out, err[-2000:])
    partial = Archive(target)
    assert partial.complete is False and 0 < len(partial.plan) < 600


def test_sighup_during_audit_leaves_the_audit_report(tmp_path):
    proc = ParityProcess(["audit", "conv2d_same", "parity.ports:conv2d_same", "--examples", "3000",
                          "--out", str(tmp_path)], text=True)
    out, err = _hang_up_after_progress(proc, seconds=0.5)
    assert proc.returncode == 129, (out, err[-2000:])
    report = load_report(tmp_path / "latest.json")
    assert report["complete"] is False and report["run"]["signal"] == "SIGHUP"
    assert report["run"]["command"] == "audit" and 0 < len(report["cases"]) < 3000


def test_sighup_outside_the_case_loop_is_an_interruption_with_its_own_code():
    import parity.cli
    from parity.core import signals

    signals.forget()
    before = signal.getsignal(signal.SIGHUP)
    with pytest.raises(KeyboardInterrupt):
        with parity.cli._sigterm_interrupts():
            os.kill(os.getpid(), signal.SIGHUP)
            time.sleep(5)
    assert signal.getsignal(signal.SIGHUP) == before and signals.exit_code() == 129
    signals.forget()


def test_sighup_during_matrix_keeps_the_runs_finished(tmp_path):
    import json

    proc = ParityProcess(["matrix", "--ops", "conv1d_same", "--variants", "port", "--examples", "3",
                          "--dtypes", "float32", "--settings", "cpu", "--repeats", "4",
                          "--out", str(tmp_path)], text=True)
    # "parity matrix: cpu, run 2 of 4": run 1 is in
    out, err = _hang_up_after_progress(proc, 0.0, lambda line: "run 2 of" in line)
    assert proc.returncode == 129, (out, err[-2000:])
    m = json.loads((tmp_path / "matrix.json").read_text())
    assert m["complete"] is False and m["signal"] == "SIGHUP"
    assert 1 <= len(m["settings"][0]["reports"]) < 4


@pytest.mark.parametrize("signum, code", [(signal.SIGHUP, 129), (signal.SIGTERM, 130)])
def test_a_signal_during_parity_model_leaves_the_layers_compared_so_far(tmp_path, monkeypatch,
                                                                        capsys, signum, code):
    """The signal arrives while the second layer is compared; the comparison stops before the
    next one and the report holds the layers compared, ``complete: false``."""
    import parity.model.core as core
    from parity import cli
    from parity.core import signals

    compared = []
    real = core._diverges

    def diverges(m):
        compared.append(m)
        if len(compared) == 5:   # two dtypes x isolated/propagated per layer: in the 2nd layer
            os.kill(os.getpid(), signum)
        return real(m)

    monkeypatch.setattr(core, "_diverges", diverges)
    signals.forget()
    try:
        assert cli.main(["model", "--zoo", "twin", "--out", str(tmp_path)]) == code
    finally:
        signals.forget()
    report = load_report(tmp_path / "latest.json")
    assert report["complete"] is False and report["run"]["signal"] == signals_name(signum)
    model = report["model"]
    assert model["layers_compared"] == 2 < model["layers_total"]
    assert model["stopped_at"] not in [r["layer"] for r in model["layers"]]
    assert "stopped by" in capsys.readouterr().out


def signals_name(signum) -> str:
    return signal.Signals(signum).name
