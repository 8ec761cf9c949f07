"""Worker processes forked from a server that has already imported the frameworks.

A new interpreter spends 5 s on this 2-core CPU importing TensorFlow, Keras and torch (and torch
imports sympy at its first backward): paid once by the server (``multiprocessing``'s forkserver,
started on first use, preloading ``parity.exec.preload``), every worker forked from it is ready in
about 0.03 s. The server imports modules only; a worker applies its own thread and device
settings on first use, from the environment its parent had when it asked for the worker. What a
framework reads from the environment while it is imported (``TF_ENABLE_ONEDNN_OPTS``,
``KERAS_BACKEND``) is the server's, fixed when it started: a side that needs another such
environment starts a new interpreter instead (``parity.exec.isolation``).

Example (any picklable function of a module works as a target):
    >>> worker = start(print, "hello from a forked worker")     # doctest: +SKIP
    >>> worker.wait(10)                                          # doctest: +SKIP
    0
"""
from __future__ import annotations

import multiprocessing
import multiprocessing.context
import os
import signal
import subprocess
from multiprocessing import popen_forkserver, spawn

_CONTEXT: list = []


def context():
    """The forkserver context (its server preloads ``parity.exec.preload``)."""
    if not _CONTEXT:
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(["parity.exec.preload"])
        _CONTEXT.append(ctx)
    return _CONTEXT[0]


def warm(skip: tuple[str, ...] = ()) -> None:
    """Start the server now, so that its imports overlap this process's own work; a server
    started here does not import the modules in ``skip`` (a run against a record archive skips
    TensorFlow). One already running is kept as it is."""
    from multiprocessing import forkserver

    from unittest import mock

    context()
    with mock.patch.dict(os.environ, {"PARITY_PRELOAD_SKIP": ",".join(skip)}):  # restored after
        forkserver.ensure_running()


def stop() -> None:
    """Kill the server and the resource tracker ``multiprocessing`` started beside it (both
    children of this process): after an interrupted run nothing of it may linger, not even a
    process that is stopped or stuck. The next worker starts a new server."""
    from multiprocessing import forkserver, resource_tracker

    for pid in (getattr(forkserver._forkserver, "_forkserver_pid", None),
                getattr(resource_tracker._resource_tracker, "_pid", None)):
        if pid:
            try:
                os.kill(pid, signal.SIGKILL)  # not reaped here: multiprocessing reaps its own
            except (ProcessLookupError, PermissionError):
                pass


def run_target(target: str, kwargs: dict, log) -> int:
    """The library function ``target`` (``package.module:function``) on ``kwargs`` in a forked
    process, its output in the file ``log``; its exit code (``parity.exec.target``)."""
    return start("parity.exec.worker:target_main", target, [], kwargs, os.getcwd(),
                 dict(os.environ), str(log), None).wait()


class _Popen(popen_forkserver.Popen):
    """Starts a worker without re-running the caller's main module in it (what
    ``multiprocessing`` does for its children): a worker needs only its target, and a user's
    script that starts a run or an audit at top level must not run again in every worker."""

    def _launch(self, process_obj):
        original = spawn.get_preparation_data

        def without_main(name):
            return {k: v for k, v in original(name).items() if not k.startswith("init_main")}
        spawn.get_preparation_data = without_main
        try:
            super()._launch(process_obj)
        finally:
            spawn.get_preparation_data = original


class _Process(multiprocessing.context.ForkServerProcess):
    @staticmethod
    def _Popen(process_obj):
        return _Popen(process_obj)


class Forked:
    """A forked worker seen through the part of ``subprocess.Popen`` the harness uses."""

    def __init__(self, process):
        self.process, self.pid = process, process.pid

    @property
    def returncode(self) -> int | None:
        return self.process.exitcode

    def poll(self) -> int | None:
        return self.process.exitcode

    def wait(self, timeout: float | None = None) -> int:
        self.process.join(timeout)
        if self.process.exitcode is None:
            raise subprocess.TimeoutExpired("parity worker", timeout)
        return self.process.exitcode

    def kill(self) -> None:
        self.process.kill()


def pipe():
    """(receiving end, sending end) of a one-way pipe to or from a worker."""
    return context().Pipe(duplex=False)


def start(target, *args) -> Forked:
    """``target(*args)`` in a new worker forked from the server; ``target`` is a function, or
    ``"package.module:function"``, imported in the worker (the starter need not import it)."""
    context()
    if isinstance(target, str):
        target, args = _by_name, (target, *args)
    process = _Process(target=target, args=args, name="parity-worker")
    process.start()
    return Forked(process)


def _by_name(target: str, *args):
    """The worker's side of a target named ``package.module:function``."""
    import importlib

    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)(*args)
