"""``parity`` commands in their own processes, forked from a server that has already imported
the frameworks (``parity.exec.forking``) instead of new interpreters that import them (5 s each on
2 cores). A forked command has its own pid, signals, exit code, working directory, environment,
resource limits and output streams, as ``python -m parity`` has: only the imports are shared.
The tests about a fresh interpreter (no TensorFlow installed, plans independent of the modules
loaded, capabilities dropped for an exec'd program) still start one.
"""
from __future__ import annotations

import os
import subprocess
import threading

from parity.exec import forking


class ParityProcess:
    """The part of ``subprocess.Popen`` the tests use, for ``parity *args`` forked."""

    def __init__(self, args, *, cwd=None, env=None, text: bool = False, fsize: int | None = None):
        out_r, out_w = forking.pipe()
        err_r, err_w = forking.pipe()
        self._proc = forking.start("parity.exec.worker:target_main", "parity.cli:main",
                                   [[str(a) for a in args]], {}, str(cwd or os.getcwd()),
                                   dict(env if env is not None else os.environ), out_w, err_w,
                                   fsize)
        out_w.close()
        err_w.close()
        mode = "r" if text else "rb"
        self.stdout = open(os.dup(out_r.fileno()), mode)
        self.stderr = open(os.dup(err_r.fileno()), mode)
        out_r.close()
        err_r.close()
        self.pid = self._proc.pid
        self.args = args

    @property
    def returncode(self):
        return self._proc.returncode

    def poll(self):
        return self._proc.poll()

    def send_signal(self, sig) -> None:
        os.kill(self.pid, sig)

    def kill(self) -> None:
        self._proc.kill()

    def wait(self, timeout=None) -> int:
        return self._proc.wait(timeout)

    def communicate(self, timeout=None):
        """(stdout, stderr) read to their ends, then the exit code; TimeoutExpired as Popen."""
        found = {}

        def read(name, stream):
            found[name] = stream.read()
            stream.close()
        readers = [threading.Thread(target=read, args=(n, s), daemon=True)
                   for n, s in (("out", self.stdout), ("err", self.stderr))]
        for r in readers:
            r.start()
        for r in readers:
            r.join(timeout)
            if r.is_alive():
                raise subprocess.TimeoutExpired(self.args, timeout)
        self._proc.wait(timeout)
        return found["out"], found["err"]


def run_parity(args, *, cwd=None, env=None, fsize=None, timeout=None):
    """``subprocess.run([python, -m, parity, *args], capture_output=True, text=True)``, forked."""
    proc = ParityProcess(args, cwd=cwd, env=env, text=True, fsize=fsize)
    out, err = proc.communicate(timeout)
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
