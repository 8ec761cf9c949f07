"""Where results go, checked before any work is done, and what happens when writing fails.

``check_dir`` (``--out`` of run, replay, merge, audit, model) and ``check_file`` (``record
--out``, ``html -o``) refuse, as one-line ``OutputError``s (exit 2), a destination that is the
wrong kind of thing, cannot be created or written (read-only directory or file system), or is
one of the command's own inputs. They probe by creating and removing a file, so they are right
for root and for read-only mounts alike. A write that fails later anyway (the disk fills during
a run) is an ``OSError`` the CLI reports as exit 3 after keeping what it could.

Example:
    >>> import tempfile, pathlib
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> check_dir(d / "new" / "reports") == d / "new" / "reports"
    True
    >>> check_file(d / "r.json", "-o", inputs=[d / "r.json"])
    Traceback (most recent call last):
    ...
    parity.core.outputs.OutputError: -o ... is the input ... itself: it would be overwritten
"""
from __future__ import annotations

import os
import tempfile
from pathlib import Path


class OutputError(ValueError):
    """A destination that cannot take the results; one line."""


def _probe(directory: Path, flag: str, target) -> None:
    try:
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=".parity-probe-")
        os.close(fd)
        os.unlink(tmp)
    except OSError as e:
        raise OutputError(f"{flag} {target}: cannot write in {directory}: "
                          f"{e.strerror or e}") from None


def _existing_ancestor(path: Path, flag: str, target) -> Path:
    here = path
    while not here.exists():
        if here.is_symlink():
            raise OutputError(f"{flag} {target}: {here} is a broken link")
        here = here.parent
    if not here.is_dir():
        raise OutputError(f"{flag} {target}: {here} is a file, not a directory")
    return here


def check_dir(path, flag: str = "--out") -> Path:
    """The report directory ``path`` can be created (if missing) and written."""
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise OutputError(f"{flag} {path} is a file, not a directory")
    _probe(_existing_ancestor(p, flag, path), flag, path)
    return p


def check_file(path, flag: str, inputs=(), create_parent: bool = False) -> Path:
    """The file ``path`` can be written (replaced atomically) and is none of ``inputs``.
    Its directory must exist unless ``create_parent``."""
    p = Path(path)
    if p.is_dir():
        raise OutputError(f"{flag} {path} is a directory; name a file")
    for given in inputs:
        same = (p.exists() and Path(given).exists() and os.path.samefile(p, given)) or \
            p.resolve() == Path(given).resolve()
        if same:
            raise OutputError(f"{flag} {path} is the input {given} itself: it would be "
                              "overwritten")
    parent = p.parent
    if not parent.exists() and not create_parent:
        raise OutputError(f"{flag} {path}: no directory {parent}")
    _probe(_existing_ancestor(parent, flag, path), flag, path)
    return p


def write_atomic(path: Path, write) -> None:
    """``write(binary file)`` into a temporary file beside ``path``, then rename it over
    ``path``; on any failure the temporary file is removed and ``path`` is untouched."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
