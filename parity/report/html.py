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

from parity.report.build import unexpected
from parity.report.plots import scatter, strip_plot
from parity.tolerance import describe_failure, output_failed

MAX_LISTED = 2000   # unexpected cases listed in full up to this many (all are in the JSON)
MAX_IN_GROUP = 200  # cases listed under one divergence's group
EXPLAINED = ("known_divergence", "tf32", "rejected_tf", "rejected_torch", "rejected_both")


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


def _groups(cases: list[dict]) -> list[dict]:
    """Cases that are known or explained, grouped by the divergence that explains them (``tf32``
    for the TF32-only differences), largest group first; each with counts, its ops and one
    example (the first case)."""
    groups: dict[str, list] = defaultdict(list)
    for c in cases:
        if c["status"] in EXPLAINED and not unexpected(c):
            groups[c["divergence"] or c["status"]].append(c)
    out = []
    for key, members in sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0])):
        statuses = defaultdict(int)
        for c in members:
            statuses[c["status"]] += 1
        out.append({"id": key, "count": len(members), "statuses": dict(sorted(statuses.items())),
                    "ops": sorted({c["op"] for c in members}), "example": _listed(members[0]),
                    "cases": members[:MAX_IN_GROUP]})
    return out


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
    bad = [c for c in cases if unexpected(c)]
    groups = _groups(cases)
    strip, scatters = _plots(cases)
    mechanisms = _mechanisms()
    divergences = [dict(d, entry=mechanisms.get(d["id"])) for d in report["divergences"]]
    statuses = sorted({k for s in report["summary"] for k in s["counts"]})
    model = report.get("model")
    return env.get_template("report.html.j2").render(
        model=model, depth=_depth(model) if model else None, report=report, run=report["run"], environment=report["environment"],
        summary=report["summary"], statuses=statuses, strip=strip, scatters=scatters,
        unexpected_cases=[_listed(c) for c in bad[:MAX_LISTED]], unexpected_total=len(bad),
        groups=groups, explained_total=sum(g["count"] for g in groups),
        max_in_group=MAX_IN_GROUP, divergences=divergences, total=len(cases))


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
