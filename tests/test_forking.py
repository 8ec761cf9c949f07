"""Workers forked from the preloaded server: the caller's environment of the moment, their own
settings, and a caller's script that is not run again in them."""
import json
import subprocess
import sys
import textwrap

from parity.exec import forking


def test_a_forked_command_runs_under_the_environment_it_was_started_in(tmp_path, monkeypatch):
    """The server was started (by an earlier test or here) under another PARITY_THREADS; the
    forked run applies the caller's value at its first case and records it."""
    forking.warm()
    monkeypatch.setenv("PARITY_THREADS", "2")
    code = forking.run_target("parity.cli:main", {"argv": [
        "run", "--ops", "l2_normalize", "--examples", "1", "--out", str(tmp_path / "r")]},
        tmp_path / "log")
    assert code == 0, (tmp_path / "log").read_text()[-2000:]
    threads = json.loads((tmp_path / "r" / "latest.json").read_text())["environment"]["threads"]
    assert threads["torch"]["intra_op_threads"] == 2, threads
    assert threads["tensorflow"]["intra_op_threads"] == 2, threads


def test_a_script_that_starts_a_worker_at_top_level_runs_once(tmp_path):
    """multiprocessing re-runs the parent's main script in each child; a worker must not (a
    user's script without ``if __name__ == "__main__"`` would run again in every worker)."""
    script = tmp_path / "audit_at_top_level.py"
    script.write_text(textwrap.dedent("""
        from parity.exec.isolation import IsolatedSide
        side = IsolatedSide("conv2d_same", {"candidate": "parity.ports:conv2d_same"})
        print("ready:", side.start()["side"])
        side.close()
        print("top level ran")
    """))
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                         cwd=tmp_path, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.count("top level ran") == 1 and out.stdout.count("ready:") == 1, \
        out.stdout + out.stderr[-2000:]
