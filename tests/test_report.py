"""Reports validate against the shipped schema; broken ones are refused with one line."""
import json
import os

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from parity.report import ReportError, build_report, load_report, validate, write_report
from parity.exec.runner import run_case

CFG = {"rank": 1, "batch": 1, "in_channels": 1, "out_channels": 2, "spatial": [7],
       "kernel": [4], "stride": [2], "dilation": [1], "groups": 1, "bias": True,
       "dtype": "float32"}


@pytest.fixture(scope="module")
def records():
    wrong = lambda x, w, b, **k: __import__("torch").nn.functional.conv1d(x, w, b, k["stride"], 1)
    return [run_case("conv1d_same", "port", CFG, 1),
            run_case("conv1d_same", "native", CFG, 1),
            run_case("conv1d_same", "audit", CFG, 1, candidate=wrong)]


def test_real_records_validate_and_summarise(records, tmp_path):
    report = build_report(records, run={"command": "run", "seed": 0}, environment={},
                          complete=True)
    validate(report)
    path = write_report(report, tmp_path, "r")
    assert load_report(path) == load_report(tmp_path / "latest.json")
    (s_audit,) = [s for s in report["summary"] if s["variant"] == "audit"]
    assert s_audit["counts"] == {"fail": 1} and s_audit["farther_from_reference"] == {"torch": 1}
    assert not [p for p in os.listdir(tmp_path) if p.endswith(".tmp")]


@pytest.mark.parametrize("breakage", [
    lambda r: r.pop("cases"),
    lambda r: r["cases"][0].update(status="maybe"),
    lambda r: r["cases"][0]["outputs"]["y"].update(bound_ratio="big"),
    lambda r: r.update(schema_version=99),
    lambda r: r["cases"][0].update(id="short")])
def test_broken_reports_are_refused(records, breakage):
    report = json.loads(json.dumps(build_report(records, run={"command": "run"}, environment={},
                                                complete=True)))
    breakage(report)
    with pytest.raises(ReportError, match="does not match the schema"):
        validate(report)


def test_unreadable_files_are_one_line_errors(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ReportError, match="is not JSON"):
        load_report(bad)
    with pytest.raises(ReportError, match="cannot read report"):
        load_report(tmp_path / "missing.json")


def test_non_finite_values_are_stored_as_strings():
    from parity.core.tolerance import _value
    assert _value(float("nan")) == "nan" and _value(float("-inf")) == "-inf" and _value(1.5) == 1.5


def _paths(value, prefix=()):
    """Every path into a JSON value, the root included."""
    yield prefix
    items = value.items() if isinstance(value, dict) else \
        enumerate(value) if isinstance(value, list) else ()
    for key, child in items:
        yield from _paths(child, prefix + (key,))


JSON = st.recursive(st.none() | st.booleans() | st.integers(-3, 3) | st.floats(-1e3, 1e3)
                    | st.sampled_from(["", "nan", "inf", "pass", "fail", "float32", "x"]),
                    lambda inner: st.lists(inner, max_size=3)
                    | st.dictionaries(st.sampled_from(["id", "y", "op", "z"]), inner, max_size=3),
                    max_leaves=6)


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_the_compiled_schema_and_jsonschema_agree_on_damaged_reports(records, data):
    """validate() trusts the compiled schema's yes: for a report damaged at a random place
    (a value replaced, a key dropped or added) it must say yes exactly where jsonschema does."""
    import jsonschema

    from parity.report.io import _compiled, schema

    report = json.loads(json.dumps(build_report(records, run={"command": "run", "seed": 0},
                                                environment={}, complete=True)))
    path = data.draw(st.sampled_from(list(_paths(report))[1:]))
    parent = report
    for key in path[:-1]:
        parent = parent[key]
    action = data.draw(st.sampled_from(["replace", "drop", "add"]))
    if action == "replace":
        parent[path[-1]] = data.draw(JSON)
    elif action == "drop" and isinstance(parent, dict):
        del parent[path[-1]]
    elif isinstance(parent[path[-1]], dict):
        parent[path[-1]][data.draw(st.sampled_from(["extra", "status", "error"]))] = data.draw(JSON)
    check, refused = _compiled()
    try:
        check(report)
        fast = True
    except refused:
        fast = False
    assert fast == jsonschema.Draft202012Validator(schema()).is_valid(report), (path, action)
