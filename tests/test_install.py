"""The wheel is the product: built from this checkout, installed into a fresh virtualenv outside
it, and run from an empty directory as a user would (``parity`` console script, no checkout on
the path). Its dependencies come from this environment through a path file, so the test needs
no network; parity itself comes only from the wheel."""
import os
import subprocess
import sys
import sysconfig
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _run(args, cwd, env, timeout=600):
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=timeout)


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """(the venv's bin directory, an empty working directory, the environment to run in)."""
    import shutil

    tmp = tmp_path_factory.mktemp("install")
    src = tmp / "src"
    shutil.copytree(ROOT / "parity", src / "parity",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, src / name)
    built = _run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
                  "--no-build-isolation", "-w", str(tmp / "dist"), str(src)], tmp, None)
    assert built.returncode == 0, built.stderr[-3000:]
    (wheel,) = (tmp / "dist").glob("parity-*.whl")
    venv = tmp / "venv"
    made = _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], tmp, None)
    assert made.returncode == 0, made.stderr[-3000:]
    python = venv / "bin" / "python"
    got = _run([sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet",
                "--no-deps", "--no-index", str(wheel)], tmp, None)
    assert got.returncode == 0, got.stderr[-3000:]
    purelib = Path(_run([str(python), "-c", "import sysconfig; "
                         "print(sysconfig.get_paths()['purelib'])"], tmp, None).stdout.strip())
    deps = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (purelib / "parity-test-deps.pth").write_text("\n".join(sorted(deps)) + "\n")
    empty = tmp / "user"
    empty.mkdir()
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("PYTHON", "PARITY_", "PYTEST_", "HYPOTHESIS_"))}
    env.update(PARITY_THREADS="1", TF_CPP_MIN_LOG_LEVEL="3")
    return venv / "bin", empty, env


def test_the_installed_wheel_carries_what_parity_reads_at_run_time(installed):
    bin_dir, empty, env = installed
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    out = _run([str(bin_dir / "parity"), "--version"], empty, env)
    assert (out.returncode, out.stdout.strip()) == (0, f"parity {version}"), out.stderr
    where = _run([str(bin_dir / "python"), "-c",
                  "import parity, parity.spec.divergences as d, parity.report.io as io; "
                  "print(parity.__file__); print(len(d.Registry.load().entries)); "
                  "print(len(io.schema()['$defs']))"], empty, env)
    module, entries, defs = where.stdout.split()
    assert module.startswith(str(bin_dir.parent)) and not module.startswith(str(ROOT)), module
    assert int(entries) > 40 and int(defs) > 0
    listed = _run([str(bin_dir / "parity"), "list"], empty, env)
    from parity.spec import registry
    assert listed.returncode == 0 and all(f"{op} " in listed.stdout for op in registry.names())


def test_a_run_over_every_op_from_an_empty_directory_has_no_unexpected_case(installed):
    """The issue's symptom: without the registry in the wheel, every known divergence and
    refusal became unexpected (exit 1)."""
    from parity.report import load_report

    bin_dir, empty, env = installed
    out = _run([str(bin_dir / "parity"), "run", "--examples", "1", "--out", "run"], empty, env)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert ", 0 unexpected; report: " in out.stdout
    report = load_report(empty / "run" / "latest.json")
    from parity.spec import registry
    assert {c["op"] for c in report["cases"]} == set(registry.names())
    assert sum(c["status"] == "known_divergence" for c in report["cases"]) > 0


def test_an_audit_of_a_module_in_the_users_directory(installed):
    """``parity audit OP mymodule:fn`` from the user's project: their module is found (the
    console script's own directory is first on its path, not theirs); a wrong port fails."""
    bin_dir, empty, env = installed
    (empty / "mine.py").write_text(
        "import torch.nn.functional as F\n"
        "from parity.ports import conv2d_same\n"
        "def unpadded(x, w, b=None, stride=1, dilation=1, groups=1):\n"
        "    return F.conv2d(x, w, b, stride, 0, dilation, groups)\n")
    good = _run([str(bin_dir / "parity"), "audit", "conv2d_same", "mine:conv2d_same",
                 "--examples", "4", "--dtypes", "float32", "--out", "good"], empty, env)
    assert good.returncode == 0, good.stdout[-3000:] + good.stderr[-3000:]
    bad = _run([str(bin_dir / "parity"), "audit", "conv2d_same", "mine:unpadded",
                "--examples", "4", "--dtypes", "float32", "--out", "bad"], empty, env)
    assert bad.returncode == 1, bad.stdout[-3000:] + bad.stderr[-3000:]
    from parity.report import load_report

    cases = load_report(empty / "bad" / "latest.json")["cases"]
    assert any(c["status"] == "fail" for c in cases)  # (kernels wider than the unpadded
    assert all(c["error"].startswith("candidate raised") for c in cases  # input raise)
               if c["status"] == "error")


def test_a_users_project_tests_its_ports_with_the_parity_fixture(installed, tmp_path):
    """tests/sample_project: a user's port with one bug and tests that use the ``parity``
    fixture (found through the installed wheel's pytest11 entry point). The buggy port's test
    fails with the shrunk config and the repro snippet; assert_equivalent says where and by
    how much; the correct ones pass."""
    import shutil

    bin_dir, _, env = installed
    project = tmp_path / "project"
    shutil.copytree(ROOT / "tests" / "sample_project", project)
    out = _run([str(bin_dir / "python"), "-m", "pytest", "-q", "-p", "no:cacheprovider"],
               project, env)
    text = out.stdout
    assert out.returncode == 1 and "2 failed, 2 passed" in text, text[-3000:] + out.stderr
    failed = text[text.index("_ test_my_conv2d_same _"):]
    assert "audit conv2d_same mylayers:conv2d_same: FAIL" in failed
    assert "minimal config (shrunk by Hypothesis):" in failed
    assert "'kernel': [" in failed
    from parity.report import load_report

    path = failed[failed.index("report: ") + 8:].split()[0]
    run = load_report(path)["run"]
    assert (run["seed"], run["examples"]) == (1, 25)  # the test's marker
    assert "parity.repro('conv2d_same', 'audit', {" in failed
    assert "candidate='mylayers:conv2d_same')" in failed
    assert "Greatest absolute difference: 3.0" in text[text.index("_ test_relu6_is_not_relu _"):]
    assert "FAILED test_mylayers.py::test_my_relu6" not in text
