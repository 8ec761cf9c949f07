"""The HTML report: one self-contained file (inline CSS, JS and SVG; nothing fetched), rendered
from ``templates/report.html.j2`` with Jinja2. ``parity html REPORT -o FILE``; every run also
writes one next to its JSON.

Example:
    >>> from parity.report.build import build_report
    >>> page = render_html(build_report([], run={"command": "run"}, environment={}, complete=True))
    >>> "<table" in page and "http" not in page.split("<body")[1].replace("http://www.w3.org", "")
    True
"""
from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

from parity.tolerance import describe_failure, output_failed
from parity.report.plots import scatter, strip_plot

MAX_LISTED = 2000
LISTED = ("fail", "error", "known_divergence", "tf32", "rejected_tf", "rejected_torch",
          "rejected_both")


def _driver(case: dict) -> tuple[str, float] | None:
    """The config parameter plotted against the bound ratio."""
    c = case["config"]
    if isinstance(c.get("stride"), list) and c["stride"]:
        return "largest stride", max(c["stride"])
    for key in ("in_channels", "channels", "size", "steps"):
        if isinstance(c.get(key), int):
            return key, c[key]
    return None


def _plots(cases: list[dict]) -> tuple[str, list[tuple[str, str]]]:
    diffs: dict[str, list] = defaultdict(list)
    points: dict[str, list] = defaultdict(list)
    labels: dict[str, str] = {}
    for c in cases:
        if c["status"] == "pass" and c["max_abs_diff"] is not None:
            diffs[f"{c['op']} {c['dtype']}"].append(c["max_abs_diff"])
        d = _driver(c)
        if d and c["max_bound_ratio"] is not None and c["status"] in ("pass", "fail",
                                                                      "known_divergence"):
            labels[c["op"]] = d[0]
            points[c["op"]].append((d[1], c["max_bound_ratio"], c["dtype"]))
    strip = strip_plot(sorted(diffs.items()), "max_abs_diff of agreeing cases")
    return strip, [(op, scatter(points[op], labels[op], "bound ratio")) for op in sorted(points)]


def _listed(case: dict) -> dict:
    failures = [describe_failure(case["op"], case["id"], n, m)
                for n, m in case["outputs"].items() if output_failed(m)]
    judges = ", ".join(f"{n} by {m['judge']}" for n, m in case["outputs"].items() if m.get("judge"))
    return dict(case, failures=failures, judges=judges,
                config_json=json.dumps(case["config"], sort_keys=True))


def _mechanisms() -> dict:
    try:
        from parity.divergences import Registry
        return {e.id: e for e in Registry.load().entries}
    except Exception:  # a report stays readable without its registry
        return {}


def render_html(report: dict) -> str:
    from jinja2 import Environment, PackageLoader, select_autoescape

    env = Environment(loader=PackageLoader("parity.report", "templates"),
                      autoescape=select_autoescape(["html", "j2"]), trim_blocks=True,
                      lstrip_blocks=True)
    cases = report["cases"]
    listed = [c for c in cases if c["status"] in LISTED]
    strip, scatters = _plots(cases)
    mechanisms = _mechanisms()
    divergences = [dict(d, entry=mechanisms.get(d["id"])) for d in report["divergences"]]
    statuses = sorted({k for s in report["summary"] for k in s["counts"]})
    model = report.get("model")
    return env.get_template("report.html.j2").render(
        model=model, depth=_depth(model) if model else None, report=report, run=report["run"], environment=report["environment"],
        summary=report["summary"], statuses=statuses, strip=strip, scatters=scatters,
        listed=[_listed(c) for c in listed[:MAX_LISTED]], listed_total=len(listed),
        divergences=divergences, total=len(cases))


def _depth(model: dict) -> str:
    from parity.report.plots import depth_plot

    rows = model["layers"]
    names = [r["layer"] for r in rows]
    first = model["verdict"].get("first_diverging")
    series = [(f"{kind} {dt}", color, [r[kind].get(dt, {}).get("bound_ratio") for r in rows])
              for kind, dt, color in (("isolated", "float32", "#1f77b4"),
                                      ("propagated", "float32", "#ff7f0e"),
                                      ("propagated", "float64", "#2ca02c"))]
    return depth_plot(series, names, names.index(first) if first in names else None)


def write_html(report: dict, path: str | Path) -> Path:
    """The page of ``report`` written atomically to ``path`` (``WriteFailed`` if it cannot be)."""
    from parity.report.io import write_page

    return write_page(render_html(report), path)
