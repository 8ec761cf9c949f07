"""Two reports -> what changed, case by case (matched by id).

Regressions: a case of the baseline missing from the current report; a case only in the
current report (a new op or variant) that fails or is rejected unexplained (one that passes or is
explained is a note); a new failure (a ``fail`` or an unexplained
rejection where the baseline was not); a new error; a metric of an output that grew beyond its
threshold (``max_abs_diff:10x,bound_ratio:2x`` by default; growth that leaves the bound ratio
below ``NOISE_RATIO`` never counts: agreeing pairs reach up to 0.23 of the bound in the default
sweep (``parity.core.tolerance``), so below 0.25 a change is indistinguishable from another summation
order, e.g. TF 2.20's float16 transposed-conv gradient where 2.21 was exact, 0 -> 0.115); and,
when asked
(``not_reproduced`` in ``--fail-on``), a registered divergence that no longer reproduces. The
environment difference is reported too: framework versions as the upgrade under test, anything
else (device, thread settings, flags, platform) loudly.

Example:
    >>> parse_fail_on("max_abs_diff:10x,not_reproduced")
    {'max_abs_diff': 10.0, 'not_reproduced': True}
"""
from __future__ import annotations

from dataclasses import dataclass, field

from parity.report.build import unexpected
from parity.core.text import printable

DEFAULT_FAIL_ON = "max_abs_diff:10x,bound_ratio:2x"
METRICS = ("max_abs_diff", "bound_ratio")
NOISE_RATIO = 0.25
FRAMEWORKS = ("torch", "tensorflow", "tensorflow-cpu", "keras")


class BadThreshold(ValueError):
    pass


def parse_fail_on(spec: str) -> dict:
    """``metric:Nx`` growth factors and the ``not_reproduced`` flag from a comma list."""
    out: dict = {}
    for item in (s.strip() for s in spec.split(",") if s.strip()):
        if item == "not_reproduced":
            out["not_reproduced"] = True
            continue
        name, _, factor = item.partition(":")
        if name not in METRICS or not factor.endswith("x"):
            raise BadThreshold(f"bad --fail-on item {item!r}: use "
                               f"{'|'.join(METRICS)}:<factor>x or not_reproduced")
        try:
            value = float(factor[:-1])
        except ValueError:
            raise BadThreshold(f"bad --fail-on factor {factor!r} in {item!r}") from None
        if not value > 1 or value == float("inf"):  # nan compares false both ways
            raise BadThreshold(f"--fail-on factor must be a finite number > 1, got {item!r}")
        out[name] = value
    return out


@dataclass
class Comparison:
    regressions: list[tuple[str, str, str]] = field(default_factory=list)   # (kind, id, detail)
    notes: list[tuple[str, str, str]] = field(default_factory=list)
    upgrade: list[str] = field(default_factory=list)
    environment: list[str] = field(default_factory=list)
    scopes: list[str] = field(default_factory=list)   # environment-scoped entries that moved
    matched: int = 0
    moved: int = 0             # matched cases whose max_abs_diff changed at all
    largest_growth: float = 1.0


def _label(case: dict) -> str:
    return f"{case['op']}/{case['variant']} {case['dtype']}"


def _packages(env: dict) -> dict:
    return env.get("packages", {}) if isinstance(env, dict) else {}


def _environment(before: dict, after: dict, cmp: Comparison) -> None:
    for line in environment_differences(before, after):
        name = line.split(" ", 1)[0]
        (cmp.upgrade if name in FRAMEWORKS else cmp.environment).append(line)


def scope_changes(before: dict, after: dict, entries) -> list[str]:
    """The registry entries scoped by the environment (``environment = ...``) that apply to one
    run's recorded facts and not to the other's: a divergence one machine can show and the other
    cannot, so a status that moved with it is the environment's doing, not a regression. Facts
    an old report lacks make the answer ``unknown``."""
    fb, fa = before.get("facts"), after.get("facts")
    if not isinstance(fb, dict) or not isinstance(fa, dict):
        return []
    lines = []
    for e in entries:
        if e.environment == "True":
            continue
        was, now = _applies(e, fb), _applies(e, fa)
        if was != now:
            lines.append(f"{e.id}: {was} -> {now} ({e.environment})")
    return lines


def _applies(entry, facts: dict) -> str:
    from parity.spec.divergences import RegistryError

    try:
        dtypes = entry.environment_dtypes(facts)
    except RegistryError:  # a fact this report does not record
        return "unknown"
    if not dtypes:
        return "does not apply"
    whole = set(entry.dtypes) if entry.dtypes else None
    if whole is None and len(dtypes) == 4 or dtypes == whole:
        return "applies"
    return f"applies to {', '.join(sorted(dtypes))}"


def environment_differences(before: dict, after: dict) -> list[str]:
    """Every difference between two report environments, a line each (packages first). The
    settings of a framework only one run recorded (``numerics``, ``threads``: a run that never
    loaded torch, as a Keras-backends comparison whose torch side is a child) are no
    difference."""
    lines = []
    pa, pb = _packages(before), _packages(after)
    for name in sorted(set(pa) | set(pb)):
        if pa.get(name) != pb.get(name):
            lines.append(f"{name} {pa.get(name)} -> {pb.get(name)}")
    for key in ("device", "numerics", "threads", "env", "python", "platform", "machine",
                "cpu_count"):
        b, a = before.get(key), after.get(key)
        if key in ("numerics", "threads") and isinstance(b, dict) and isinstance(a, dict):
            b, a = ({k: v for k, v in d.items() if k in other} for d, other in ((b, a), (a, b)))
        if b != a:
            lines.append(f"{key}: {b!r} -> {a!r}")
    return lines


def _grew(name: str, output: str, b: dict, c: dict, factor: float) -> str | None:
    old, new = b.get(name), c.get(name)
    if not isinstance(old, (int, float)) or not isinstance(new, (int, float)):
        return None
    if (c.get("bound_ratio") or 0) < NOISE_RATIO or new <= factor * old:
        return None
    return f"{output}.{name} {old:.3g} -> {new:.3g} (> {factor:g}x)"


def compare_reports(baseline: dict, current: dict, fail_on: dict) -> Comparison:
    """Two reports held whole."""
    return compare_briefs(baseline, brief(baseline["cases"]), current, brief(current["cases"]),
                          fail_on)


def brief(cases) -> dict[str, tuple]:
    """Each case (from any iterable: ``parity.report.stream`` reads a file one case at a time)
    by id, as what comparing needs of it and no more: its index, label, status, whether it is
    unexpected, error, max_abs_diff, and per output (max_abs_diff, bound_ratio). 200,000 cases
    take about 0.1 GiB this way."""
    names: dict[str, str] = {}
    out = {}
    for i, c in enumerate(cases):
        label = _label(c)
        out[c["id"]] = (i, names.setdefault(label, label), names.setdefault(c["status"], c["status"]),
                        unexpected(c), c.get("error"), c.get("max_abs_diff"),
                        {names.setdefault(o, o): (m.get("max_abs_diff"), m.get("bound_ratio"))
                         for o, m in c["outputs"].items()})
    return out


def brief_file(path) -> tuple[dict, dict[str, tuple]]:
    """(head, ``brief`` of the cases) of a report file, read one case at a time."""
    from parity.report.stream import open_report

    report = open_report(path)
    return report.head, brief(report.cases())


def compare_briefs(baseline: dict, before: dict[str, tuple], current: dict,
                   after: dict[str, tuple], fail_on: dict) -> Comparison:
    """The comparison of two reports given as their heads and the ``brief`` of their cases.
    The rows come out in the order of the baseline's cases, then the new cases in the current
    report's order."""
    from parity.spec.divergences import Registry

    cmp = Comparison()
    _environment(baseline.get("environment", {}), current.get("environment", {}), cmp)
    cmp.scopes = scope_changes(baseline.get("environment", {}), current.get("environment", {}),
                               Registry.load().entries)
    total = len(before)
    wanted = [m for m in METRICS if m in fail_on]
    rows: list[tuple[int, bool, tuple[str, str, str]]] = []   # (order, regression?, row)
    for cid, (j, label, status, is_unexpected, error, new, outputs) in after.items():
        kept = before.get(cid)
        if kept is None:  # new coverage that fails unexplained is a regression
            what = f"{label} only in the current report: {status}"
            rows.append((total + j, is_unexpected,
                         ("new case failing" if is_unexpected else "new case", cid, what)))
            continue
        index, _, b_status, b_unexpected, _, old, b_outputs = kept
        cmp.matched += 1
        if status == "error" and b_status != "error":
            rows.append((index, True, ("new error", cid, f"{label}: {error}")))
        elif is_unexpected and not b_unexpected:
            kind = "new rejection" if status.startswith("rejected") else "new failure"
            rows.append((index, True, (kind, cid, f"{label}: {b_status} -> {status}")))
        elif status != b_status:
            rows.append((index, False, ("status", cid, f"{label}: {b_status} -> {status}")))
        if old != new:
            cmp.moved += 1
            if isinstance(old, (int, float)) and isinstance(new, (int, float)) and old > 0:
                cmp.largest_growth = max(cmp.largest_growth, new / old)
        for output, (mad, ratio) in outputs.items():
            was = b_outputs.get(output)
            if was is None:
                continue
            bm, m = dict(zip(METRICS, was)), {"max_abs_diff": mad, "bound_ratio": ratio}
            for name in wanted:
                grew = _grew(name, output, bm, m, fail_on[name])
                if grew:
                    rows.append((index, True, ("growth", cid, f"{label}: {grew}")))
    for cid, (index, label, *_rest) in before.items():
        if cid not in after:
            rows.append((index, True, ("missing", cid, f"{label} only in the baseline")))
    rows.sort(key=lambda r: r[0])   # stable: a case's rows keep their order
    for _, regression, row in rows:
        (cmp.regressions if regression else cmp.notes).append(row)
    was = {d["id"]: d for d in baseline.get("divergences", [])}
    for d in current.get("divergences", []):
        if d.get("not_reproduced"):
            detail = (f"scope exercised {d['exercised']}x, never reproduced (baseline: "
                      f"{was.get(d['id'], {}).get('reproduced', 'absent')} reproduced)")
            target = cmp.regressions if fail_on.get("not_reproduced") else cmp.notes
            target.append(("not_reproduced", d["id"], detail))
    return cmp


def render(cmp: Comparison, baseline_path, current_path) -> str:
    """The text table ``parity compare`` prints."""
    lines = [f"baseline {baseline_path}", f"current  {current_path}",
             f"matched {cmp.matched} cases by id; max_abs_diff changed in {cmp.moved} "
             f"(largest growth {cmp.largest_growth:.3g}x)"]
    if cmp.upgrade:
        lines.append("framework versions: " + "; ".join(cmp.upgrade))
    if cmp.environment:
        lines += ["!!! ENVIRONMENT DIFFERS BEYOND FRAMEWORK VERSIONS: numbers may move for that "
                  "reason alone !!!"] + [f"!!!   {e}" for e in cmp.environment]
    if cmp.scopes:
        lines += ["registry entries scoped by the environment that apply to one run only "
                  "(statuses they explain moved with the environment):"] + \
            [f"  {line}" for line in cmp.scopes]
    for title, rows in (("REGRESSIONS", cmp.regressions), ("changes", cmp.notes)):
        if rows:
            lines.append(f"{title} ({len(rows)}):")
            width = max(len(k) for k, _, _ in rows)
            lines += [f"  {k:<{width}}  {i}  {d}" for k, i, d in rows]
    lines.append(f"{len(cmp.regressions)} regression(s)")
    return "\n".join(printable(line) for line in lines)  # a report's text is data, escaped
