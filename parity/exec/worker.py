"""The worker process of ``parity.exec.isolation``: ``python -m parity.exec.worker IN_FD OUT_FD``.

Reads ``{"op", "spec", "memory_gib"}``, loads the side (answers ``("ready", info)`` or
``("unusable", one line)``), then answers each ``("run", config, inputs, named)`` (``named``:
``(op, registered side)`` for a worker shared by several ops, else None) with
``("result", (outputs, refusal, warnings))`` until it reads ``None``. A candidate that raises
``SystemExit`` or ``KeyboardInterrupt`` during a case is a refusal with that name; anything
that kills the process is seen by the parent.
"""
from __future__ import annotations

import os
import signal
import sys
from multiprocessing.connection import Connection


def _limit_resources(gib) -> None:
    """No core files (a candidate that aborts must not keep a dead worker writing gigabytes
    while its case's clock runs) and, with ``gib``, an address-space limit."""
    try:
        import resource
    except ImportError:  # not on this platform: no limits
        return
    try:
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        if gib:
            limit = int(gib * 2**30)
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    except (ValueError, OSError):
        pass


def _side(op, spec: dict):
    """The torch side function the spec names."""
    if "side" in spec:
        return op.torch_sides[spec["side"]]
    from parity.exec.candidates import load, side_for

    return side_for(op, load(spec["candidate"]),
                    module=spec.get("module", False), forward_only=spec.get("forward_only", False))


def serve(recv: Connection, send: Connection) -> None:
    from parity.spec import registry
    from parity.exec.calls import call_side as _call, one_line

    hello = recv.recv()
    _limit_resources(hello.get("memory_gib"))
    try:
        op = registry.get(hello["op"]) if hello["op"] else None
        side = _side(op, hello["spec"]) if op else None
    except BaseException as e:  # noqa: BLE001 - user code on import: SystemExit included
        send.send(("unusable", one_line(e) if not isinstance(e, SystemExit)
                   else f"the candidate's module called sys.exit({e.code!r}) on import"))
        return
    send.send(("ready", {"side": getattr(side, "__name__", str(side))}))
    while True:
        msg = recv.recv()
        if msg is None:
            return
        _, config, inputs, named = msg
        try:
            if named:  # a shared worker: (op, registered side) per case
                op_here = registry.get(named[0])
                side_here = op_here.torch_sides[named[1]]
            else:
                op_here, side_here = op, side
            cfg = op_here.parse_config(config)
            result = _call(side_here, cfg, inputs)
        except (SystemExit, KeyboardInterrupt) as e:
            code = f": sys.exit({e.code!r})" if isinstance(e, SystemExit) else ""
            result = (None, f"{type(e).__name__}{code}", [])
        except Exception as e:  # noqa: BLE001 - the harness's own fault, said as such
            send.send(("harness", f"harness: {one_line(e)}"))
            continue
        send.send(("result", result))


def _leave(code: int = 0) -> None:
    """Exit now with ``code``, output flushed: a worker has nothing to tear down, and an
    interpreter that imported torch takes most of a second to finalize."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)


def _serve_until_done(recv: Connection, send: Connection) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle,
    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # and so is a closed terminal
    try:
        serve(recv, send)
    except (EOFError, BrokenPipeError):  # the parent went away
        pass
    _leave()


def _adopt_environment(environ: dict) -> None:
    """The parent's environment of the moment, not the server's."""
    os.environ.clear()
    os.environ.update(environ)


def _become_worker(environ: dict, cwd: str) -> None:
    """A forked worker (``parity.exec.forking``): its own process group (the parent kills the
    group), the parent's environment and directory of the moment (the server's may be
    others), stdout on stderr."""
    os.setsid()
    _adopt_environment(environ)
    os.chdir(cwd)
    os.dup2(2, 1)


def forked_main(recv: Connection, send: Connection, environ: dict, cwd: str) -> None:
    """A torch side's worker forked for ``parity.exec.isolation``."""
    _become_worker(environ, cwd)
    _serve_until_done(recv, send)


def cases_main(recv: Connection, send: Connection, environ: dict, cwd: str, divergences,
               archive: str | None = None) -> None:
    """A worker of ``parity run --workers`` (``parity.exec.parallel``): reads lists of
    ``(index, (op, variant, config, seed))``, answers ``(index, record)`` for each case as it
    finishes, until it reads ``None``. ``archive``: a record archive's path, whose TF results
    stand in for TensorFlow."""
    _become_worker(environ, cwd)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle,
    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # and so is a closed terminal
    from parity.spec.divergences import Registry
    from parity.exec.isolation import close_shared
    from parity.exec.runner import run_case

    registry = Registry.load(divergences)
    tf_recorded = None
    if archive is not None:
        from parity.report.archive import Archive

        tf_recorded = Archive(archive).tf_result
    try:
        while (cases := recv.recv()) is not None:
            for index, (op, variant, config, seed) in cases:
                send.send((index, run_case(op, variant, config, seed, divergences=registry,
                                           tf_recorded=tf_recorded)))
    except (EOFError, BrokenPipeError):  # the parent went away
        pass
    close_shared()
    _leave()


def target_main(target: str, args: list, kwargs: dict, cwd: str, environ: dict, out, err,
                fsize: int | None = None):
    """A forked process running the library function ``target`` (``package.module:function``,
    ``parity.exec.target``) on ``args`` and ``kwargs``: output to ``out`` and ``err`` (pipe
    ends, or one file path for both), in ``cwd`` under ``environ``, with ``fsize`` as
    RLIMIT_FSIZE; exits with what the function returns."""
    from parity.exec import target as targets

    if isinstance(out, str):
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        os.dup2(fd, 1)
        os.dup2(fd, 2)
        os.close(fd)
    else:
        os.dup2(out.fileno(), 1)
        os.dup2(err.fileno(), 2)
        out.close()
        err.close()
    os.chdir(cwd)
    _adopt_environment(environ)
    signal.signal(signal.SIGHUP, signal.SIG_DFL)  # as a command has it (the server ignores it)
    if fsize is not None:
        import resource

        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
    sys.argv = [target]
    _leave(targets.run(target, args, kwargs) or 0)


def _die_with_parent() -> None:
    """Where Linux lets it (``PR_SET_PDEATHSIG``), be killed when the process that started this
    worker dies, even if this one is stopped or stuck: a run's workers end with it."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # 1: PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux
        return
    if os.getppid() == 1:  # the parent died before the request above
        _leave()


def main(argv: list[str]) -> None:
    _die_with_parent()
    _serve_until_done(Connection(int(argv[0]), writable=False),
                      Connection(int(argv[1]), readable=False))


if __name__ == "__main__":
    main(sys.argv[1:])
