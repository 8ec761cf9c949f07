"""Report files: atomic write (temp file + rename), load, JSON Schema validation.

Example:
    >>> import tempfile, pathlib
    >>> from parity.report.build import build_report
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> p = write_report(build_report([], run={"command": "run"}, environment={}, complete=True), d, "r1")
    >>> load_report(p)["complete"], (d / "latest.json").exists()
    (True, True)
"""
from __future__ import annotations

import json
import os
import tempfile
from functools import lru_cache
from importlib import resources
from pathlib import Path

import jsonschema


class ReportError(ValueError):
    """An unreadable or invalid report; one-line message."""


@lru_cache(maxsize=1)
def schema() -> dict:
    return json.loads(resources.files("parity.report").joinpath("schema.json").read_text())


def validate(report: dict) -> None:
    """Raise ``ReportError`` naming the first violation of the schema."""
    try:
        jsonschema.validate(report, schema())
    except jsonschema.ValidationError as e:
        where = "/".join(str(p) for p in e.absolute_path) or "(top)"
        raise ReportError(f"report does not match the schema at {where}: {e.message}") from None


def _atomic_write(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; a report is an ordinary file
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def write_report(report: dict, out_dir: str | Path, name: str) -> Path:
    """Write ``out_dir/name.json`` and ``out_dir/latest.json`` atomically; return the first."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    text = json.dumps(report, indent=1, sort_keys=False, allow_nan=False)
    path = out / f"{name}.json"
    _atomic_write(path, text)
    _atomic_write(out / "latest.json", text)
    return path


def load_report(path: str | Path) -> dict:
    """Read and validate a report; any problem is a one-line ``ReportError``."""
    try:
        data = json.loads(Path(path).read_text())
    except OSError as e:
        raise ReportError(f"cannot read report {path}: {e.strerror}") from None
    except json.JSONDecodeError as e:
        raise ReportError(f"report {path} is not JSON: {e.msg} at line {e.lineno}") from None
    if not isinstance(data, dict):
        raise ReportError(f"report {path} is not a JSON object")
    from parity.report.upgrade import IncompatibleReport, upgrade

    try:
        data = upgrade(data)
    except IncompatibleReport as e:
        raise ReportError(f"report {path}: {e}") from None
    validate(data)
    return data


def write_report_html(report: dict, json_path: str | Path) -> Path:
    """``<run>.html`` next to the report's JSON, and ``latest.html``."""
    from parity.report.html import render_html

    json_path = Path(json_path)
    page = render_html(report)
    html_path = json_path.with_suffix(".html")
    _atomic_write(html_path, page)
    _atomic_write(json_path.parent / "latest.html", page)
    return html_path
