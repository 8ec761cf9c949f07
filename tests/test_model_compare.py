"""parity compare on model reports: each layer and dtype is a case, matched by layer name, so a
layer that agreed in the baseline and diverges now is a regression naming the layer (what
make upgrade-check reads across framework versions)."""
from parity import api
from parity.cli import main
from parity.model import zoo
from parity.model.layer_cases import layer_cases


def _report(name):
    return {"model": zoo.run(name), "environment": {}}


def test_a_layer_that_diverges_now_is_a_regression_naming_it_and_a_fixed_one_is_not():
    twin, naive = _report("twin"), _report("naive-twin")   # naive-twin: BatchNorm2d defaults
    worse = api.compare(twin, naive)
    assert worse.regressed
    first = worse.regressions[0]
    assert first[0] == "new failure" and first[1] == "bn1:float32", first
    assert naive["model"]["verdict"]["first_propagated"] == "bn1"
    better = api.compare(naive, twin)
    assert not better.regressed
    assert any(k == "status" and cid == "bn1:float32" for k, cid, _ in better.comparison.notes)


def test_the_same_comparison_run_twice_has_no_regression_and_every_layer_is_matched():
    a, b = _report("twin"), _report("twin")
    changes = api.compare(a, b)
    cases = layer_cases(a)
    assert not changes.regressed, changes.text
    assert changes.comparison.matched == len(cases) == \
        a["model"]["layers_compared"] * len(a["model"]["dtypes"])
    assert {c["status"] for c in cases} == {"pass"}


def test_model_report_files_compare_from_the_command_line(tmp_path, capsys):
    assert main(["model", "--zoo", "twin", "--out", str(tmp_path / "a")]) == 0
    assert main(["model", "--zoo", "naive-twin", "--out", str(tmp_path / "b")]) == 1
    capsys.readouterr()
    code = main(["compare", str(tmp_path / "a" / "model-twin.json"),
                 str(tmp_path / "b" / "model-naive-twin.json")])
    out = capsys.readouterr().out
    assert code == 1
    assert "new failure  bn1:float32" in out and "model:naive-twin/bn1 float32" in out
