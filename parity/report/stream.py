"""A report read one case at a time: what ``parity compare`` and ``parity html`` use, so that
a report of 200,000 cases is never held whole.

``report_text`` writes each case on one line between the line ``"cases": [`` and the line
``]``; everything else (the head: environment, run, summary, divergences; and the tail, e.g. an
audit block) is small. ``open_report`` parses head and tail at once and checks them against the
schema with an empty case list; ``StreamedReport.cases()`` then yields each case, checked for
what a reader of all cases uses (``BRIEF``: the fields ``compare`` and ``html`` read, typed as
the schema types them; a known op and variant; the id that of its op, variant, config and seed;
no id twice), with the one-line ``ReportError`` of ``load_report``. ``check_whole`` checks one
case against the whole case schema: ``html`` does so for every case it shows in full. What the
brief check leaves out (the rest of each case's fields, whether its config is valid for its
op) costs 40 times the parse on a 200,000-case report; ``load_report`` checks it all. A file not
laid out one case per line (written by another tool, or re-indented) is read whole by
``load_report`` instead.

Example:
    >>> import tempfile, pathlib
    >>> from parity.report.build import build_report
    >>> from parity.report.io import write_report
    >>> d = pathlib.Path(tempfile.mkdtemp())
    >>> p = write_report(build_report([], run={"command": "run"}, environment={}, complete=True), d, "r")
    >>> r = open_report(p)
    >>> r.head["complete"], list(r.cases())
    (True, [])
"""
from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Iterator

from parity.report.io import ReportError, load_report, parse_json, report_from_bytes, schema

_OPEN, _CLOSE = b' "cases": [\n', b" ]"
_EMPTY = b' "cases": []'
_BIG_NUMBER = re.compile(rb"\d{300}|[eE]\+?0*[1-9]\d{2}")
"""A literal that may overflow a float: only such lines need the strict (slow) number parse."""


BRIEF = ("id", "op", "variant", "config", "dtype", "seed", "status", "outputs", "max_abs_diff",
         "max_bound_ratio", "error", "divergence")
"""The fields of a case that reading every case uses; each output's ``max_abs_diff`` and
``bound_ratio`` too."""


@lru_cache(maxsize=2)
def _checker(brief: bool):
    """(compiled check or None, its exception, jsonschema validator) for the case schema, or for
    its ``BRIEF`` part."""
    s = schema()
    case = s["$defs"]["case"]
    if brief:
        metric = {"type": ["number", "null"]}
        properties = {k: case["properties"][k] for k in BRIEF if k != "outputs"}
        properties["outputs"] = {"type": "object", "additionalProperties": {
            "type": "object", "properties": {"max_abs_diff": metric, "bound_ratio": metric}}}
        case = {"type": "object", "required": [k for k in case["required"] if k in BRIEF],
                "properties": properties}
    # the case's references name the report schema's id: it is kept
    rooted = dict(case, **{"$schema": s["$schema"], "$id": s["$id"], "$defs": s["$defs"]})
    import jsonschema

    try:
        import fastjsonschema
    except ImportError:
        return None, Exception, jsonschema.Draft202012Validator(rooted)
    return (fastjsonschema.compile(rooted), fastjsonschema.JsonSchemaException,
            jsonschema.Draft202012Validator(rooted))


def _loads():
    """orjson's parser where it is installed (strict: no NaN or Infinity literals, no numbers
    that overflow a float, UTF-8 only; twice the speed of ``json``), else ``json``'s."""
    try:
        import orjson
    except ImportError:
        return None
    return orjson.loads


@dataclass
class StreamedReport:
    path: Path
    head: dict          # the report without its cases (``cases`` is an empty list)
    _span: tuple[int, int] | None   # byte offsets of the case lines; None: read whole
    _whole: dict | None = None
    number: int = 0     # the 1-based number of the case ``cases()`` yielded last

    def cases(self) -> Iterator[dict]:
        """Each case, checked for ``BRIEF``, in file order."""
        if self._span is None:
            yield from self._whole["cases"]
            return
        from parity.spec import registry
        from parity.core.ids import case_id

        seen: set[str] = set()
        start, end = self._span
        fast = _loads()
        with open(self.path, "rb") as f:
            f.seek(start)
            number = 0
            while f.tell() < end:
                number += 1
                line = f.readline()
                if not line.startswith(b"  {"):
                    raise ReportError(f"report {self.path}: case {number} is not one line "
                                      "of the case list")
                case = _parse_case(line, self.path, number, fast)
                _check_schema(case, self.path, number, brief=True)
                where = f"report {self.path}: case {number} ({case['id']})"
                try:
                    op = registry.get(case["op"])
                    if case["variant"] != "audit":
                        op.variant(case["variant"])
                except registry.UnknownOp as e:
                    raise ReportError(f"{where}: {e}") from None
                if case_id(case["op"], case["variant"], case["config"], case["seed"]) != \
                        case["id"]:
                    raise ReportError(f"{where}: the id is not that of its op, variant, config "
                                      "and seed")
                if case["id"] in seen:
                    raise ReportError(f"{where}: the id appears twice")
                seen.add(case["id"])
                self.number = number
                yield case

    def check_whole(self, case: dict) -> None:
        """The case ``cases()`` yielded last against the whole case schema, and its config
        against its op (``load_report``'s checks)."""
        from parity.spec import registry
        from parity.core.config import ConfigError

        number = self.number
        if self._span is None:
            return   # read whole: checked already
        _check_schema(case, self.path, number, brief=False)
        try:
            registry.get(case["op"]).parse_config(case["config"])
        except ConfigError as e:
            raise ReportError(f"report {self.path}: case {number} ({case['id']}): {e}") from None


def open_report(path: str | Path) -> StreamedReport:
    """The head of ``path`` parsed and checked; its cases left for ``cases()``."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            head, span, tail = _split(f)
    except OSError as e:
        raise ReportError(f"cannot read report {path}: {e.strerror}") from None
    if head is None:
        whole = load_report(path)
        return StreamedReport(path, dict(whole, cases=[]), None, whole)
    return StreamedReport(path, report_from_bytes(head + _EMPTY + tail, path), span)


def _split(f) -> tuple[bytes | None, tuple[int, int] | None, bytes]:
    """(head up to the case list, byte span of the case lines, tail after the list), or
    (None, None, b"") when the file is not laid out one case per line. The end of the list is
    found from the end of the file (the tail is small); the case lines are checked as read."""
    head = bytearray()
    for line in f:
        if line == _OPEN:
            break
        if line.startswith(_EMPTY) or len(head) > 64 << 20:   # no cases, or no such layout
            return None, None, b""
        head += line
    else:
        return None, None, b""
    start = f.tell()
    size = f.seek(0, 2)
    back = min(size - start, 16 << 20)
    f.seek(size - back)
    last = f.read(back)
    close = last.rfind(b"\n" + _CLOSE)
    if close < 0 or last[close + 1 + len(_CLOSE):close + 2 + len(_CLOSE)] not in (b"\n", b","):
        return None, None, b""
    end = size - back + close + 1
    return bytes(head), (start, end), last[close + 1 + len(_CLOSE):]


def _parse_case(line: bytes, path: Path, number: int, fast) -> dict:
    text = line.rstrip(b"\n")
    if text.endswith(b","):
        text = text[:-1]
    where = f"report {path}: case {number}"
    case = None
    if fast is not None:
        try:
            case = fast(text)
        except ValueError:
            pass   # the strict parse below names the problem
    elif not _BIG_NUMBER.search(text):
        try:
            case = json.loads(text, parse_constant=_no_constant)
        except (UnicodeDecodeError, ValueError, RecursionError):
            pass
    if case is None:
        case = parse_json(text, where)
    if not isinstance(case, dict):
        raise ReportError(f"{where} is not a JSON object")
    return case


def _no_constant(name: str):
    raise ValueError(f"non-standard JSON literal {name}")


def _check_schema(case: dict, path: Path, number: int, brief: bool) -> None:
    check, refused, validator = _checker(brief)
    if check is not None:
        try:
            check(case)
            return
        except refused:
            pass
    error = next(iter(validator.iter_errors(case)), None)
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "(top)"
        raise ReportError(f"report {path} does not match the schema at cases/{number - 1}/"
                          f"{where}: {error.message}")


def side_by_side(fn, first, second):
    """``(fn(first), fn(second))``, the first computed in a forked child process while this one
    computes the second: two cores read two big reports in the time of one. An error of either
    is raised (the first's when both fail, as reading them in turn would)."""
    import multiprocessing

    ctx = multiprocessing.get_context("fork")
    receive, send = ctx.Pipe(duplex=False)
    child = ctx.Process(target=_send_outcome, args=(send, fn, first), daemon=True)
    child.start()
    send.close()
    try:
        try:
            here = fn(second)
        except BaseException:
            kind, value = _outcome(receive, first)
            if kind == "error":
                raise value from None
            raise
        kind, value = _outcome(receive, first)
    finally:
        if child.is_alive():
            child.terminate()
        child.join()
    if kind == "error":
        raise value
    return value, here


def _send_outcome(send, fn, arg) -> None:
    try:
        send.send(("value", fn(arg)))
    except BaseException as e:  # noqa: BLE001 - carried to the parent, raised there
        send.send(("error", e if isinstance(e, Exception) else ReportError(str(e))))


def _outcome(receive, arg) -> tuple[str, object]:
    try:
        return receive.recv()
    except (EOFError, OSError):
        return "error", ReportError(f"reading report {arg} ended without a result")
