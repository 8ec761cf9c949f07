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
from functools import lru_cache
from importlib import resources
from pathlib import Path

import jsonschema

from parity.core.outputs import write_atomic


class ReportError(ValueError):
    """An unreadable or invalid report; one-line message."""


@lru_cache(maxsize=1)
def schema() -> dict:
    return json.loads(resources.files("parity.report").joinpath("schema.json").read_text())


@lru_cache(maxsize=1)
def _compiled():
    """The schema compiled to Python by fastjsonschema (a 6,000-case report: 1 s instead of
    jsonschema's 12 s), or None where that library is missing."""
    try:
        import fastjsonschema
    except ImportError:
        return None
    return fastjsonschema.compile(schema()), fastjsonschema.JsonSchemaException


def validate(report: dict) -> None:
    """Raise ``ReportError`` naming the first violation of the schema.

    A report the compiled schema accepts is valid; anything else is judged by jsonschema,
    whose verdict and message stand (the two agree: ``tests/test_report.py``)."""
    compiled = _compiled()
    if compiled is not None:
        check, refused = compiled
        try:
            check(report)
            return
        except refused:
            pass
    try:
        jsonschema.validate(report, schema())
    except jsonschema.ValidationError as e:
        where = "/".join(str(p) for p in e.absolute_path) or "(top)"
        raise ReportError(f"report does not match the schema at {where}: {e.message}") from None


def atomic_write_text(path: Path, text: str) -> None:
    write_atomic(path, lambda f: f.write(text.encode("utf-8")))


def write_report(report: dict, out_dir: str | Path, name: str) -> Path:
    """Write ``out_dir/name.json`` and ``out_dir/latest.json`` atomically; return the first.

    ``latest.*`` never describes another run than the newest one that could be written: when
    a write fails (``WriteFailed``, one line), the ``latest`` files it would have replaced are
    removed rather than left behind."""
    out = Path(out_dir)
    text = report_text(report)
    path = out / f"{name}.json"
    try:
        out.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, text)
        atomic_write_text(out / "latest.json", text)
    except OSError as e:
        forget(out / "latest.json", out / "latest.html")
        written = f"; wrote {path}" if path.exists() else "; no report written"
        raise WriteFailed(f"cannot write the report in {out}: {e.strerror or e}{written}") \
            from None
    return path


def report_text(report: dict) -> str:
    """A report as JSON text: indented, except that each case takes one line (a case diffs as
    one line, and Python's C encoder writes 6,000 cases in a quarter of the indented time).

    >>> report_text({"complete": True, "cases": [{"id": "a", "status": "pass"}]})
    '{\\n "complete": true,\\n "cases": [\\n  {"id": "a", "status": "pass"}\\n ]\\n}\\n'
    """
    parts = []
    for key, value in report.items():
        if key == "cases" and isinstance(value, list) and value:
            body = "[\n  " + ",\n  ".join(json.dumps(c, allow_nan=False) for c in value) + "\n ]"
        else:
            body = json.dumps(value, indent=1, allow_nan=False).replace("\n", "\n ")
        parts.append(f" {json.dumps(key)}: {body}")
    return "{\n" + ",\n".join(parts) + "\n}\n"


class WriteFailed(Exception):
    """Results that could not be written (a full disk, a directory gone read-only); one line
    saying what was kept. Exit 3."""


def forget(*paths: Path) -> None:
    for p in paths:
        try:
            p.unlink(missing_ok=True)
        except OSError:
            pass


def _no_constant(name: str):
    raise ValueError(f"non-standard JSON literal {name}")


def _finite(text: str) -> float:
    value = float(text)
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError(f"number {text[:20]} overflows a float")
    return value


def parse_json(data: bytes, what: str) -> object:
    """Strict JSON from bytes: UTF-8 only, no NaN/Infinity literals or numbers that overflow
    (a report stores non-finite values as strings), no integers of more than 4,300 digits,
    nesting within Python's recursion limit; else a one-line ``ReportError``."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ReportError(f"{what} is not UTF-8 text (byte {data[e.start]:#04x} at offset "
                          f"{e.start})") from None
    try:
        return json.loads(text, parse_constant=_no_constant, parse_float=_finite)
    except json.JSONDecodeError as e:
        raise ReportError(f"{what} is not JSON: {e.msg} at line {e.lineno}") from None
    except RecursionError:
        raise ReportError(f"{what} is nested too deeply to be a report") from None
    except ValueError as e:  # a NaN literal, an overflowing float, a 5,000-digit integer
        reason = "an integer of more than 4,300 digits" if "digits" in str(e) else str(e)
        raise ReportError(f"{what} is not a report: {reason}") from None


def load_report(path: str | Path) -> dict:
    """Read and validate a report; any problem is a one-line ``ReportError``."""
    try:
        raw = Path(path).read_bytes()
    except OSError as e:
        raise ReportError(f"cannot read report {path}: {e.strerror}") from None
    data = report_from_bytes(raw, path)
    check_cases(data, path)
    return data


def report_from_bytes(raw: bytes, path) -> dict:
    """A report's JSON parsed, upgraded to the current schema and validated (its cases not
    checked against the registry: ``check_cases``)."""
    data = parse_json(raw, f"report {path}")
    if not isinstance(data, dict):
        raise ReportError(f"report {path} is not a JSON object")
    from parity.report.upgrade import IncompatibleReport, upgrade

    try:
        data = upgrade(data)
    except IncompatibleReport as e:
        raise ReportError(f"report {path}: {e}") from None
    try:
        validate(data)
    except RecursionError:
        raise ReportError(f"report {path} is nested too deeply to be a report") from None
    return data


def check_cases(report: dict, path) -> None:
    """Each case names a known op and variant, holds a config that op accepts, and has the
    id of its (op, variant, config, seed): a hand-edited or crafted case is refused here, not
    met later as a traceback (or silently as a duplicate)."""
    seen: set[str] = set()
    for i, case in enumerate(report["cases"]):
        check_case(case, i + 1, path, seen)


def check_case(case: dict, number: int, path, seen: set[str]) -> None:
    """``check_cases`` for the ``number``-th case (1-based); ``seen`` holds the ids so far."""
    from parity.spec import registry
    from parity.core.config import ConfigError
    from parity.core.ids import case_id

    where = f"report {path}: case {number} ({case['id']})"
    try:
        op = registry.get(case["op"])
        if case["variant"] != "audit":
            op.variant(case["variant"])
        op.parse_config(case["config"])
    except (registry.UnknownOp, ConfigError) as e:
        raise ReportError(f"{where}: {e}") from None
    if case_id(case["op"], case["variant"], case["config"], case["seed"]) != case["id"]:
        raise ReportError(f"{where}: the id is not that of its op, variant, config and seed")
    if case["id"] in seen:
        raise ReportError(f"{where}: the id appears twice")
    seen.add(case["id"])


def write_page(page: str, path: str | Path) -> Path:
    """An HTML page written atomically (``parity html``)."""
    path = Path(path)
    try:
        atomic_write_text(path, page)
    except OSError as e:
        raise WriteFailed(f"cannot write {path}: {e.strerror or e}") from None
    return path
