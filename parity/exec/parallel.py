"""A plan of cases run by worker processes (``parity run --workers N``), merged into one
report whose case ids, metrics and order equal a one-process run with the same seed.

The workers are forked from a server that has imported the frameworks once (``parity.exec.forking``),
so N workers cost one import, not N. A config's variants go to the same worker one after the
other (they share its TF result and float64 reference, ``runner._LastConfig``); a worker asks
for the next config when it has finished one, so a slow op never leaves the other core idle.
The divergence counts are recounted from the merged records on a fresh registry. A worker that
dies loses only its in-flight case (recorded as ``error``: "worker crashed while running this
case"); a new worker takes the rest of its config and the run goes on. SIGTERM or Ctrl-C kills
the workers; the cases finished so far are written with ``complete: false``.
"""
from __future__ import annotations

import os
import subprocess
from collections import deque
from multiprocessing.connection import wait

from parity.exec.isolation import describe_exit, kill_group
from parity.exec.runner import base_record


def config_groups(plan: list) -> deque:
    """Runs of consecutive plan indices that share op, config and seed (a config's variants)."""
    groups: deque = deque()
    last = None
    for index, (op, _, config, seed) in enumerate(plan):
        key = (op, config, seed)
        if key != last:
            groups.append([])
            last = key
        groups[-1].append(index)
    return groups


class _Worker:
    def __init__(self, divergences, archive):
        from parity.exec import forking

        child_recv, self.send = forking.pipe()
        self.recv, child_send = forking.pipe()
        self.proc = forking.start("parity.exec.worker:cases_main", child_recv, child_send, dict(os.environ),
                                  os.getcwd(), divergences, archive)
        child_recv.close()
        child_send.close()
        self.left: list[int] = []  # indices sent and not answered, in the order they run

    def assign(self, plan: list, indices: list[int]) -> None:
        self.left = list(indices)
        self.send.send([(i, plan[i]) for i in indices])

    def kill(self) -> None:
        kill_group(self.proc)
        for c in (self.send, self.recv):
            c.close()


def run_plan_in_workers(plan: list, workers: int, progress=None, stop=None,
                        divergences=None, archive: str | None = None) -> tuple[list, bool]:
    """(records in plan order, interrupted) for a plan of (op, variant, config, seed);
    ``archive``: the path of a record archive whose TF results the workers judge against."""
    from parity.exec import forking

    pending = config_groups(plan)
    found: dict[int, dict] = {}
    pool: list[_Worker] = []
    interrupted = False
    if stop is not None:
        stop.immediate = True  # nothing here to finish first: stop even a blocked call
    try:
        for _ in range(min(workers, len(pending)) or 1):
            pool.append(_Worker(divergences, archive))
        while len(found) < len(plan):
            for w in pool:
                if not w.left and pending:
                    w.assign(plan, pending.popleft())
            busy = [w for w in pool if w.left]
            for conn in wait([w.recv for w in busy], timeout=0.2):
                w = next(w for w in busy if w.recv is conn)
                try:
                    index, rec = w.recv.recv()
                except (EOFError, OSError):  # the worker died in its first unanswered case
                    pool[pool.index(w)] = _replace(w, plan, found, pending, divergences, archive)
                    continue
                found[index] = rec
                w.left.remove(index)
            if progress:
                progress(len(found), len(plan))
            if stop is not None and stop.requested:
                raise KeyboardInterrupt
    except KeyboardInterrupt:
        interrupted = True
    finally:
        if stop is not None:  # the report is written next: a second SIGTERM must not cut it
            stop.immediate = False
        if interrupted:  # the server first: a stuck one would hold each worker's exit status
            forking.stop()
        for w in pool:
            w.kill()
    records = [found[i] for i in range(len(plan)) if i in found]
    return records, interrupted or len(records) < len(plan)


def _replace(dead: _Worker, plan: list, found: dict, pending: deque, divergences,
             archive: str | None) -> _Worker:
    """Record the dead worker's in-flight case as an error, queue the rest of its config first,
    and start a new worker."""
    try:
        code = dead.proc.wait(10)
    except subprocess.TimeoutExpired:  # alive but deaf: killed below
        code = None
    crashed, rest = dead.left[0], dead.left[1:]
    rec = base_record(*plan[crashed])
    rec["error"] = f"harness: worker crashed while running this case (it {describe_exit(code)})"
    found[crashed] = rec
    if rest:
        pending.appendleft(rest)
    dead.left = []
    dead.kill()
    return _Worker(divergences, archive)
