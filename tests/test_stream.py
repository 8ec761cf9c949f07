"""Reports read one case at a time (``compare``, ``html``): the same results as reading them
whole, and every bad case line a one-line error (exit 2)."""
import copy
import json

import pytest

import parity
from parity import cli
from parity.report import load_report
from parity.report.html import render_html
from parity.report.io import report_text
from parity.report.plots import strip_plot
from parity.report.stream import open_report
from parity.flows.session import run_sweep


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    out = tmp_path_factory.mktemp("stream")
    _, path = run_sweep(["conv2d_same", "l2_normalize", "init_he_uniform"], examples=4, seed=2,
                        dtypes=("float32", "float16"), out_dir=out)
    return load_report(path)


def _changed(report: dict) -> dict:
    cur = copy.deepcopy(report)
    passing = [c for c in cur["cases"] if c["status"] == "pass"]
    passing[0]["status"] = "fail"
    m = next(m for c in passing[1:] for m in c["outputs"].values() if m.get("bound_ratio"))
    m["max_abs_diff"], m["bound_ratio"] = m["max_abs_diff"] * 100 + 1e-30, 0.9
    cur["cases"].remove(passing[-1])
    return cur


def _lines(path, report):
    path.write_text(report_text(report))
    return path


def test_streamed_compare_and_html_equal_the_whole_report_ones(report, tmp_path):
    cur = _changed(report)
    b, c = _lines(tmp_path / "b.json", report), _lines(tmp_path / "c.json", cur)
    assert open_report(b)._span is not None   # read one case at a time
    streamed, whole = parity.compare(b, c), parity.compare(report, cur)
    assert streamed.comparison.regressions == whole.comparison.regressions
    assert streamed.comparison.notes == whole.comparison.notes
    assert len(whole.comparison.regressions) == 4, whole.text   # growth: both metrics
    indented = tmp_path / "i.json"   # not one case per line: read whole, same answer
    indented.write_text(json.dumps(cur, indent=2))
    assert open_report(indented)._span is None
    assert parity.compare(b, indented).comparison.regressions == whole.comparison.regressions
    r = open_report(c)
    assert render_html(r.head, r.cases(), r.check_whole) == render_html(load_report(c))


def _tamper(report, tmp_path, edit):
    """The report with its (first passing) case line edited by ``edit(case dict) -> line``."""
    text = report_text(report).splitlines(keepends=True)
    i = next(k for k, line in enumerate(text) if line.startswith("  {") and '"pass"' in line)
    case = json.loads(text[i].rstrip().rstrip(","))
    text[i] = "  " + edit(case) + ("," if text[i].rstrip().endswith(",") else "") + "\n"
    path = tmp_path / "t.json"
    path.write_text("".join(text))
    return path, i


def _status(c, value):
    c["status"] = value
    return json.dumps(c)


def _metric(c):
    next(iter(c["outputs"].values()))["max_abs_diff"] = "small"
    return json.dumps(c)


@pytest.mark.parametrize("edit, message", [
    (lambda c: json.dumps(c)[:-5], "not JSON"),
    (lambda c: _status(c, "bogus"), "does not match the schema at cases/"),
    (_metric, "does not match the schema at cases/"),
    (lambda c: json.dumps(dict(c, seed=c["seed"] + 1)), "the id is not that of its op"),
    (lambda c: json.dumps(dict(c, op="conv9d")), "conv9d"),
    (lambda c: json.dumps(c).replace('"max_abs_diff": 0.0', '"max_abs_diff": NaN', 1)
     if '"max_abs_diff": 0.0' in json.dumps(c) else json.dumps(c)[:-1] + ', "x": NaN}',
     "not a report"),
    (lambda c: json.dumps(c) + ",\n  " + json.dumps(c), "appears twice"),
])
def test_a_bad_case_line_is_a_one_line_error_for_compare_and_html(report, tmp_path, capsys,
                                                                   edit, message):
    bad, _ = _tamper(report, tmp_path, edit)
    good = _lines(tmp_path / "g.json", report)
    for argv in (["compare", str(good), str(bad)], ["html", str(bad), "-o", str(tmp_path / "p.html")]):
        capsys.readouterr()
        assert cli.main(argv) == 2, argv
        err = capsys.readouterr().err
        assert err.startswith("parity: error:") and len(err.strip().splitlines()) == 1, err
        assert message in err and "case" in err, err


def test_html_checks_the_cases_it_shows_against_the_whole_schema(report, tmp_path, capsys):
    def broken_failure(c):
        c["status"] = "fail"
        del next(iter(c["outputs"].values()))["mismatched"]
        return json.dumps(c)

    bad, _ = _tamper(report, tmp_path, broken_failure)
    assert cli.main(["html", str(bad), "-o", str(tmp_path / "p.html")]) == 2
    assert "mismatched" in capsys.readouterr().err


def test_marks_on_one_spot_are_drawn_once_with_their_stacked_opacity():
    one, three = strip_plot([("op float32", [1e-7])], "d"), strip_plot([("op float32", [1e-7] * 3)], "d")
    assert one.count('stroke-opacity="0.35"') == 1
    assert three.count("stroke-opacity=") == 1 and 'stroke-opacity="0.725"' in three
