"""``parity record``: the TF side of every planned case, run once and stored in a reference
archive (``parity.report.archive``)."""
from __future__ import annotations

from pathlib import Path

from parity.report import archive


def record(plan: list, path: str | Path, environment: dict, progress=None, stop=None,
           shapes: str = "small") -> bool:
    """Run the TF side of every case of ``plan`` once; write the archive to ``path`` atomically
    (a full disk leaves the old file, never a partial one). Ctrl-C, or ``stop.requested`` at a
    case boundary, ends the loop and writes the cases recorded so far with ``complete: false``.
    Returns whether the archive is complete. ``shapes``: what the plan drew (``realistic`` is
    named in the manifest and in the reports of runs against the archive)."""
    from parity.exec.runner import tf_result

    entries: dict[str, dict] = {}
    arrays: dict = {}
    cases = []
    complete = True
    try:
        for i, (op, variant, config, seed) in enumerate(plan):
            if progress:
                progress(i, len(plan))
            if stop is not None and stop.requested:
                raise KeyboardInterrupt
            key = archive.tf_side_key(op, variant, config, seed)
            if key not in entries:
                out, err, warnings = tf_result(op, variant, config, seed)
                entries[key] = archive.entry_of(out, err, warnings, key, arrays)
            cases.append([op, variant, config, seed, key])
    except KeyboardInterrupt:
        complete = False
    archive.write(path, cases, entries, arrays, environment, complete, shapes)
    return complete
