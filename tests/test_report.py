"""Reports validate against the shipped schema; broken ones are refused with one line."""
import json
import os

import pytest

from parity.report import ReportError, build_report, load_report, validate, write_report
from parity.runner import run_case

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
    from parity.compare import _value
    assert _value(float("nan")) == "nan" and _value(float("-inf")) == "-inf" and _value(1.5) == 1.5
