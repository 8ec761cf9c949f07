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
from parity.report.io import WriteFailed, atomic_write_text, forget
from parity.report.plots import scatter, strip_plot
from parity.core.tolerance import describe_failure, output_failed

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


class _Seen:
    """What the page needs of the cases, gathered in one pass (a report of 200,000 cases is
    read one case at a time and never held): the unexpected cases up to ``MAX_LISTED``, each
    group of explained cases up to ``MAX_IN_GROUP`` with its counts, and the plotted values."""

    def __init__(self, check=None):
        self.check = check or (lambda case: None)   # on each case kept to be shown in full
        self.total = 0
        self.bad: list[dict] = []
        self.bad_total = 0
        self.groups: dict[str, dict] = {}
        self.diffs: dict[str, list] = defaultdict(list)
        self.points: dict[str, list] = defaultdict(list)
        self.labels: dict[str, str] = {}

    def add(self, c: dict) -> None:
        self.total += 1
        if unexpected(c):
            self.bad_total += 1
            if len(self.bad) < MAX_LISTED:
                self.check(c)
                self.bad.append(_listed(c))
        elif c["status"] in EXPLAINED:
            key = c["divergence"] or c["status"]
            g = self.groups.get(key)
            if g is None or len(g["cases"]) < MAX_IN_GROUP:
                self.check(c)
            if g is None:
                g = self.groups[key] = {"id": key, "count": 0, "statuses": defaultdict(int),
                                        "ops": set(), "example": _listed(c), "cases": []}
            g["count"] += 1
            g["statuses"][c["status"]] += 1
            g["ops"].add(c["op"])
            if len(g["cases"]) < MAX_IN_GROUP:
                g["cases"].append(c)
        if c["status"] == "pass" and c["max_abs_diff"] is not None:
            self.diffs[f"{c['op']} {c['dtype']}"].append(c["max_abs_diff"])
        d = _driver(c)
        if d and c["max_bound_ratio"] is not None and c["status"] in ("pass", "fail",
                                                                      "known_divergence"):
            self.labels[c["op"]] = d[0]
            self.points[c["op"]].append((d[1], c["max_bound_ratio"], c["dtype"]))

    def plots(self) -> tuple[str, list[tuple[str, str]]]:
        strip = strip_plot(sorted(self.diffs.items()), "max_abs_diff of agreeing cases")
        return strip, [(op, scatter(self.points[op], self.labels[op], "bound ratio"))
                       for op in sorted(self.points)]

    def grouped(self) -> list[dict]:
        """Cases that are known or explained, grouped by the divergence that explains them
        (``tf32`` for the TF32-only differences), largest group first; each with counts, its
        ops and one example (the first case)."""
        out = [dict(g, statuses=dict(sorted(g["statuses"].items())), ops=sorted(g["ops"]))
               for g in self.groups.values()]
        return sorted(out, key=lambda g: (-g["count"], g["id"]))


def _listed(case: dict) -> dict:
    failures = [describe_failure(case["op"], case["id"], n, m)
                for n, m in case["outputs"].items() if output_failed(m)]
    judges = ", ".join(f"{n} by {m['judge']}" for n, m in case["outputs"].items() if m.get("judge"))
    return dict(case, failures=failures, judges=judges,
                config_json=json.dumps(case["config"], sort_keys=True))


def _mechanisms() -> dict:
    try:
        from parity.spec.divergences import Registry
        return {e.id: e for e in Registry.load().entries}
    except Exception:  # a report stays readable without its registry
        return {}


def render_html(report: dict, cases=None, check=None) -> str:
    """The page of ``report``; ``cases``, when given, are its cases one at a time (an iterator,
    ``parity.report.stream``) in place of ``report["cases"]``, and ``check(case)`` is called on
    each case the page shows in full before it is shown."""
    from jinja2 import Environment, PackageLoader, select_autoescape

    env = Environment(loader=PackageLoader("parity.report", "templates"),
                      autoescape=select_autoescape(["html", "j2"]), trim_blocks=True,
                      lstrip_blocks=True)
    seen = _Seen(check)
    for c in report["cases"] if cases is None else cases:
        seen.add(c)
    groups = seen.grouped()
    strip, scatters = seen.plots()
    mechanisms = _mechanisms()
    divergences = [dict(d, entry=mechanisms.get(d["id"])) for d in report["divergences"]]
    statuses = sorted({k for s in report["summary"] for k in s["counts"]})
    model = report.get("model")
    return env.get_template("report.html.j2").render(
        model=model, depth=_depth(model) if model else None,
        drift=_drift(model["training"]) if model and model.get("training") else None,
        training_layers=_training_layers(model["training"]) if model and model.get("training")
        else None, report=report, run=report["run"],
        environment=report["environment"], summary=report["summary"], statuses=statuses,
        strip=strip, scatters=scatters, unexpected_cases=seen.bad,
        unexpected_total=seen.bad_total, groups=groups,
        explained_total=sum(g["count"] for g in groups), max_in_group=MAX_IN_GROUP,
        divergences=divergences, total=seen.total)


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


TRAINING_COLUMNS = ("forward", "output_gradient", "isolated_gradient", "gradient",
                    "statistics", "update")


def _training_layers(training: dict) -> list[dict]:
    """Per layer of a training step, in model order (the forward rows', then the updates'):
    the worst bound ratio of each kind of quantity, float32 and float64 (absent: none of that
    kind), and whether any diverges."""
    rows = [q for q in training["quantities"] if q["layer"] is not None]
    order = list(dict.fromkeys([q["layer"] for q in rows if q["kind"] == "forward"] +
                               [q["layer"] for q in rows if q["kind"] == "update"] +
                               [q["layer"] for q in rows]))
    layers = {name: {"layer": name, "bad": False} for name in order}
    for q in rows:
        row = layers[q["layer"]]
        cell = row.setdefault(q["kind"], {"float32": None, "float64": None})
        for dt in cell:
            r = q[dt]["bound_ratio"]
            if r is not None:
                cell[dt] = r if cell[dt] is None else max(cell[dt], r)
        row["bad"] = row["bad"] or bool(q["float32"]["mismatched"] or q["float64"]["mismatched"]
                                        or not q["float32"]["shape_match"])
    return [layers[name] for name in order]


def _drift(training: dict) -> str:
    """The worst weight's and the loss's bound ratio after each step."""
    from parity.report.plots import depth_plot

    h = training["history"]
    names = [f"step {e['step']}" for e in h]
    worst = lambda e, dt: (e["worst_weight"][dt] or {}).get("bound_ratio")  # noqa: E731
    series = [("worst weight float32", "#ff7f0e", [worst(e, "float32") for e in h]),
              ("worst weight float64", "#2ca02c", [worst(e, "float64") for e in h]),
              ("loss float64", "#1f77b4", [(e["loss_comparison"] or {}).get(
                  "float64", {}).get("bound_ratio") for e in h])]
    parted = training["verdict"].get("parted_at_step")
    return depth_plot(series, names, parted["step"] - 1 if parted else None,
                      axis=f"step (1 to {len(h)})")


def write_html(report: dict, path: str | Path, cases=None, check=None) -> Path:
    """The page of ``report`` (its cases from ``cases`` when given, as ``render_html``) written
    atomically to ``path`` (``WriteFailed`` if it cannot be)."""
    from parity.report.io import write_page

    return write_page(render_html(report, cases, check), path)


def write_report_html(report: dict, json_path: str | Path) -> Path:
    """``<run>.html`` next to the report's JSON, and ``latest.html``."""
    json_path = Path(json_path)
    page = render_html(report)
    html_path = json_path.with_suffix(".html")
    try:
        atomic_write_text(html_path, page)
        atomic_write_text(json_path.parent / "latest.html", page)
    except OSError as e:
        forget(json_path.parent / "latest.html")
        raise WriteFailed(f"wrote {json_path}, but not its HTML page: {e.strerror or e}") \
            from None
    return html_path
