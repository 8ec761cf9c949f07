"""Torch sides in a worker process: a candidate that exits, hangs, aborts, segfaults or eats
memory ends its case as an ``error`` saying what happened, and the run goes on.

The worker imports the candidate (or a registered side that needs its own environment, e.g.
Keras on the torch backend), then answers one case at a time over a pipe. A candidate's worker
is forked from a server that has already imported the frameworks and the harness
(``parity.exec.forking``): it is ready in about 0.03 s instead of the 1.8 s a new interpreter takes to
import torch, and it runs under the caller's environment of the moment. A side with an
environment of its own starts ``python -m parity.exec.worker`` (the environment must be set before
its framework is imported). A case that does not answer within ``timeout`` seconds gets the
worker killed; a worker that died is restarted for the next case. Where the platform has ``RLIMIT_AS`` the
worker's address space is limited to ``memory_gib`` (a candidate that asks for more gets a
MemoryError inside its own call: a failed case, not a dead harness).

Example (needs torch; ``parity.ports:conv2d_same`` is a correct candidate):
    >>> side = IsolatedSide("conv2d_same", {"candidate": "parity.ports:conv2d_same"})  # doctest: +SKIP
    >>> side.start(); side.close()                                                    # doctest: +SKIP
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from multiprocessing.connection import Connection

DEFAULT_TIMEOUT_S = 60.0
DEFAULT_MEMORY_GIB = 16.0
_START_TIMEOUT_S = 300.0  # importing torch (and Keras) on a slow, loaded machine


def kill_group(proc, wait_s: float = 5.0) -> None:
    """SIGKILL a worker's process group (the worker leads its own), or the worker alone if it
    has none yet; then wait at most ``wait_s`` for its exit status (a forked worker's comes
    through the server, which may itself be stuck)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        proc.kill()
    try:
        proc.wait(wait_s)
    except subprocess.TimeoutExpired:
        pass


class SideCrashed(RuntimeError):
    """The worker died or timed out during a case: the case is an ``error`` with this text."""


class CandidateUnusable(RuntimeError):
    """The candidate cannot be loaded in the worker (bad name, import failed or exited)."""


def describe_exit(code: int | None) -> str:
    """'exited with code 3', 'killed by SIGSEGV', ..."""
    if code is None:
        return "did not exit"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"killed by {name}" + (" (out of memory?)" if -code == signal.SIGKILL else "")
    return f"exited with code {code}"


class IsolatedSide:
    """A torch side run in a worker process; call it like ``runner._call``:
    ``side(cfg, inputs) -> (outputs or None, refusal message or None, warnings)``.

    ``spec``: ``{"candidate": "pkg.mod:fn", "module": bool, "forward_only": bool}`` or
    ``{"side": name}`` (one of the op's registered torch sides); ``env``: extra environment.
    """

    def __init__(self, op_name: str, spec: dict, env: dict | None = None,
                 timeout: float = DEFAULT_TIMEOUT_S, memory_gib: float | None = DEFAULT_MEMORY_GIB):
        self.op_name, self.spec, self.env = op_name or None, dict(spec), dict(env or {})
        self.timeout, self.memory_gib = timeout, memory_gib
        self.proc: subprocess.Popen | None = None
        self.info: dict = {}
        self.restarts = 0

    # ------------------------------------------------------------ process
    def start(self) -> dict:
        """Start the worker and load the candidate; ``CandidateUnusable`` says why not."""
        if self.env:
            self._spawn()
        else:
            self._fork()
        try:
            self._send.send({"op": self.op_name, "spec": self.spec, "memory_gib": self.memory_gib})
        except OSError:
            pass  # died at once: the answer below says how
        kind, payload = self._answer(_START_TIMEOUT_S, "loading the candidate")
        if kind != "ready":
            self.close()
            raise CandidateUnusable(payload)
        self.info = payload
        return payload

    def _fork(self) -> None:
        """A worker forked from the preloaded server, under this process's environment now."""
        from parity.exec import forking

        child_recv, self._send = forking.pipe()
        self._recv, child_send = forking.pipe()
        self.proc = forking.start("parity.exec.worker:forked_main", child_recv, child_send,
                                  dict(os.environ), os.getcwd())
        child_recv.close()
        child_send.close()

    def _spawn(self) -> None:
        """A new interpreter with ``self.env`` set before anything is imported."""
        to_child_r, to_child_w = os.pipe()
        from_child_r, from_child_w = os.pipe()
        env = dict(os.environ, **self.env)
        env["PYTHONPATH"] = os.pathsep.join([p for p in sys.path if p] +
                                            [env.get("PYTHONPATH", "")])
        args = [sys.executable, "-m", "parity.exec.worker", str(to_child_r), str(from_child_w)]
        self.proc = subprocess.Popen(args, pass_fds=(to_child_r, from_child_w), env=env,
                                     stdin=subprocess.DEVNULL, stdout=2,
                                     start_new_session=True)
        os.close(to_child_r)
        os.close(from_child_w)
        self._send = Connection(to_child_w, readable=False)
        self._recv = Connection(from_child_r, writable=False)

    def _answer(self, timeout: float, doing: str):
        """The worker's next message, or ("died", text) if it died or timed out."""
        try:
            if self._recv.poll(timeout):
                return self._recv.recv()
        except (EOFError, OSError):
            pass
        else:
            self.kill()
            return "died", f"timed out after {timeout:g} s {doing} (worker killed)"
        code = self._wait()
        return "died", f"the worker {describe_exit(code)} while {doing}"

    def _wait(self) -> int | None:
        try:
            return self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.kill()
            return self.proc.returncode

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            kill_group(self.proc)

    def close(self) -> None:
        if self.proc is None:
            return
        try:
            self._send.send(None)  # the worker leaves at once (os._exit), nothing to tear down
            self.proc.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired, ValueError):
            pass
        self.kill()
        for c in (self._send, self._recv):
            c.close()
        self.proc = None

    # ------------------------------------------------------------ cases
    def __call__(self, cfg, inputs: dict, named: tuple[str, str] | None = None):
        if self.proc is None or self.proc.poll() is not None:
            if self.proc is not None:
                self.close()
            self.start()
        try:
            self._send.send(("run", cfg.to_dict(), inputs, named))
        except OSError:
            pass
        kind, payload = self._answer(self.timeout, "running the case")
        if kind == "died":
            self.close()
            self.restarts += 1  # the next case starts a new worker
            raise SideCrashed(f"candidate crashed: {payload}")
        if kind == "harness":
            raise RuntimeError(payload)
        return payload

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


_SHARED: dict = {}


def shared_side(op_name: str, side_name: str, env: dict):
    """A registered torch side that needs its own process (e.g. Keras on the torch backend), run
    in one worker per environment shared by every op for the whole process (closed at exit)."""
    key = tuple(sorted(env.items()))
    if key not in _SHARED:
        if not _SHARED:
            import atexit
            atexit.register(close_shared)
        _SHARED[key] = IsolatedSide("", {}, env=env, memory_gib=None)
    worker = _SHARED[key]
    return lambda cfg, inputs: worker(cfg, inputs, (op_name, side_name))


def close_shared() -> None:
    for side in _SHARED.values():
        side.close()
    _SHARED.clear()
