"""The Python API (parity.run / audit / compare) and the pytest plugin's footprint."""
import json
import subprocess
import sys

import pytest

import parity


def test_importing_parity_imports_neither_the_api_nor_a_framework():
    lazy = subprocess.run([sys.executable, "-c", "import sys, parity; print(sorted(m for m in "
                           "('parity.api', 'parity.cli', 'torch', 'tensorflow') "
                           "if m in sys.modules))"], capture_output=True, text=True)
    assert lazy.stdout.strip() == "[]", lazy.stderr
    assert parity.run is parity.api.run and "audit" in dir(parity)  # resolved on first use


@pytest.mark.parametrize("call, words", [
    (lambda: parity.run(["no_such_op"], examples=1), "unknown op"),
    (lambda: parity.run(["conv1d_same"], dtypes=["float128"], examples=1), "unknown dtype"),
    (lambda: parity.run(["conv1d_same"], examples=0), "between 1 and"),
    (lambda: parity.audit("conv1d_same", "no_such_module:fn", examples=1), "cannot import"),
    (lambda: parity.audit("conv1d_same", len, profile="nope"), "unknown profile")])
def test_bad_input_is_a_value_error_with_the_clis_words(call, words, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ValueError, match=words):
        call()


def test_compare_sees_a_case_that_regressed(tmp_path):
    report = parity.run(["conv1d_same"], variants=["port"], dtypes=["float32"], examples=2,
                        out=tmp_path)
    assert report.ok and not parity.compare(report, report.path).regressed
    worse = json.loads(json.dumps(report.data))
    worse["cases"][0]["status"] = "fail"
    changes = parity.compare(report, worse)
    assert changes.regressed and changes.regressions[0][1] == worse["cases"][0]["id"]
    assert "regression" in changes.text


def test_the_plugin_is_inert_in_a_project_that_does_not_use_it(tmp_path):
    """Collected and run without the fixture: nothing of the harness is imported."""
    (tmp_path / "test_plain.py").write_text(
        "import sys\n"
        "def test_plain():\n"
        "    assert 'parity.pytest_plugin' in sys.modules  # loaded by its entry point\n"
        "    assert not [m for m in ('parity.api', 'parity.cli', 'torch', 'tensorflow')\n"
        "                if m in sys.modules]\n")
    out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                          str(tmp_path / "test_plain.py")], capture_output=True, text=True,
                         cwd=tmp_path)
    assert out.returncode == 0, out.stdout[-2000:]
