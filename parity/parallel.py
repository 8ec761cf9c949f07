"""A plan of cases run by pytest-xdist workers (``parity run --workers N``), merged into one
report whose case ids, metrics and order equal a one-process run with the same seed.

The divergence counts are recounted from the merged records on a fresh registry. A worker that
dies loses only its in-flight case (recorded as ``error``: "worker crashed while running ...");
xdist starts a new worker and the run goes on. SIGTERM or Ctrl-C stops the workers; the cases
finished so far are written with ``complete: false``.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from parity.plugin import PLAN_SUFFIX
from parity.runner import base_record


def _read(path: Path) -> dict[int, dict]:
    out: dict[int, dict] = {}
    if not path.exists():
        return out
    for line in path.read_text().splitlines():
        try:
            item = json.loads(line)
        except json.JSONDecodeError:  # a line cut short by a stop
            continue
        out[item["index"]] = item
    return out


class _LineCounter:
    """Finished cases so far: newlines in the records file, reading only what was appended."""

    def __init__(self, path: Path):
        self.path, self.offset, self.lines = path, 0, 0

    def count(self) -> int:
        if self.path.exists():
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                chunk = f.read()
            self.offset += len(chunk)
            self.lines += chunk.count(b"\n")
        return self.lines


def run_plan_in_workers(plan: list, workers: int, progress=None, stop=None) -> tuple[list, bool]:
    """(records in plan order, interrupted) for a plan of (op, variant, config, seed)."""
    with tempfile.TemporaryDirectory(prefix="parity-workers-") as tmp:
        tmp_path = Path(tmp)
        plan_path = tmp_path / f"cases{PLAN_SUFFIX}"
        plan_path.write_text(json.dumps(plan))
        records_path = tmp_path / "records.jsonl"
        (tmp_path / "pytest.ini").write_text("[pytest]\n")
        cmd = [sys.executable, "-m", "pytest", "-q", "-p", "parity.plugin", "-p",
               "no:cacheprovider", "-c", str(tmp_path / "pytest.ini"), "--rootdir", tmp,
               "-n", str(workers), "--parity-records", str(records_path), str(plan_path)]
        log = open(tmp_path / "pytest.log", "w")
        # its own process group: stopping this run ends the pytest controller and every
        # worker it started, even one stuck in a kernel that never returns
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, cwd=tmp,
                                start_new_session=True)
        interrupted = False
        counter = _LineCounter(records_path)
        try:
            while proc.poll() is None:
                time.sleep(0.2)
                if progress:
                    progress(counter.count(), len(plan))
                if stop is not None and stop.requested:
                    raise KeyboardInterrupt
        except KeyboardInterrupt:
            interrupted = True
        finally:
            end_group(proc)
            log.close()
        found = _read(records_path)
    records = []
    for index, (op, variant, config, seed) in enumerate(plan):
        item = found.get(index)
        if item is None:
            interrupted = True  # never ran: the run was stopped
            continue
        if "record" in item:
            records.append(item["record"])
        else:
            rec = base_record(op, variant, config, seed)
            rec["error"] = f"harness: {item['crashed']}"
            records.append(rec)
    return records, interrupted


def end_group(proc: subprocess.Popen, grace_s: float = 10.0) -> None:
    """End ``proc``'s process group: SIGTERM, then SIGKILL whatever is left after
    ``grace_s`` (a worker busy in a kernel does not answer SIGTERM)."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(proc.pid, sig)
            os.killpg(proc.pid, signal.SIGCONT)  # a stopped worker gets its SIGTERM now
        except (ProcessLookupError, PermissionError):
            break
        deadline = time.monotonic() + grace_s
        while time.monotonic() < deadline and _group_alive(proc.pid):
            proc.poll()
            time.sleep(0.05)
        if not _group_alive(proc.pid):
            break
    proc.wait()


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    return True
