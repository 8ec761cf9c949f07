"""Two reports -> what changed, case by case (matched by id).

Regressions: a case of the baseline missing from the current report; a case only in the
current report (a new op or variant) that fails or is rejected unexplained (one that passes or is
explained is a note); a new failure (a ``fail`` or an unexplained
rejection where the baseline was not); a new error; a metric of an output that grew beyond its
threshold (``max_abs_diff:10x,bound_ratio:2x`` by default; growth that leaves the bound ratio
below ``NOISE_RATIO`` never counts: agreeing pairs reach up to 0.23 of the bound in the default
sweep (``parity.tolerance``), so below 0.25 a change is indistinguishable from another summation
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
from parity.text import printable

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
    from parity.divergences import RegistryError

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
    """Every difference between two report environments, a line each (packages first)."""
    lines = []
    pa, pb = _packages(before), _packages(after)
    for name in sorted(set(pa) | set(pb)):
        if pa.get(name) != pb.get(name):
            lines.append(f"{name} {pa.get(name)} -> {pb.get(name)}")
    for key in ("device", "numerics", "threads", "env", "python", "platform", "machine",
                "cpu_count"):
        if before.get(key) != after.get(key):
            lines.append(f"{key}: {before.get(key)!r} -> {after.get(key)!r}")
    return lines


def _grew(name: str, output: str, b: dict, c: dict, factor: float) -> str | None:
    old, new = b.get(name), c.get(name)
    if not isinstance(old, (int, float)) or not isinstance(new, (int, float)):
        return None
    if (c.get("bound_ratio") or 0) < NOISE_RATIO or new <= factor * old:
        return None
    return f"{output}.{name} {old:.3g} -> {new:.3g} (> {factor:g}x)"


def compare_reports(baseline: dict, current: dict, fail_on: dict) -> Comparison:
    from parity.divergences import Registry

    cmp = Comparison()
    _environment(baseline.get("environment", {}), current.get("environment", {}), cmp)
    cmp.scopes = scope_changes(baseline.get("environment", {}), current.get("environment", {}),
                               Registry.load().entries)
    before = {c["id"]: c for c in baseline["cases"]}
    after = {c["id"]: c for c in current["cases"]}
    for cid, b in before.items():
        c = after.get(cid)
        if c is None:
            cmp.regressions.append(("missing", cid, f"{_label(b)} only in the baseline"))
            continue
        cmp.matched += 1
        if c["status"] == "error" and b["status"] != "error":
            cmp.regressions.append(("new error", cid, f"{_label(c)}: {c['error']}"))
        elif unexpected(c) and not unexpected(b):
            kind = "new rejection" if c["status"].startswith("rejected") else "new failure"
            cmp.regressions.append((kind, cid, f"{_label(c)}: {b['status']} -> {c['status']}"))
        elif c["status"] != b["status"]:
            cmp.notes.append(("status", cid, f"{_label(c)}: {b['status']} -> {c['status']}"))
        old, new = b.get("max_abs_diff"), c.get("max_abs_diff")
        if old != new:
            cmp.moved += 1
            if isinstance(old, (int, float)) and isinstance(new, (int, float)) and old > 0:
                cmp.largest_growth = max(cmp.largest_growth, new / old)
        for output, m in c["outputs"].items():
            for name in METRICS:
                if name in fail_on and (bm := b["outputs"].get(output)) is not None:
                    grew = _grew(name, output, bm, m, fail_on[name])
                    if grew:
                        cmp.regressions.append(("growth", cid, f"{_label(c)}: {grew}"))
    for cid, c in after.items():
        if cid in before:
            continue
        if unexpected(c):  # new coverage that fails unexplained is a regression
            cmp.regressions.append(("new case failing", cid, f"{_label(c)} only in the current "
                                    f"report: {c['status']}"))
        else:
            cmp.notes.append(("new case", cid, f"{_label(c)} only in the current report: "
                              f"{c['status']}"))
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
