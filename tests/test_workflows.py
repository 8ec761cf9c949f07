"""The CI workflows parse, and every make target and parity command they run exists."""
import re
import shlex
from pathlib import Path

import pytest
import yaml

from parity.cli import BadInput, build_parser

ROOT = Path(__file__).resolve().parents[1]
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))
TARGETS = set(re.findall(r"^([\w-]+):", (ROOT / "Makefile").read_text(), re.M))


def _runs(workflow: dict):
    for job in workflow["jobs"].values():
        for step in job["steps"]:
            if "run" in step:
                yield from (line.strip() for line in step["run"].splitlines() if line.strip())


def _concrete(line: str) -> str:
    """Expressions replaced by a value their matrix could give."""
    return re.sub(r"\$\{\{[^}]*\}\}", "on", line)


def test_the_three_workflows_exist():
    assert {p.name for p in WORKFLOWS} == {"ci.yml", "nightly-gpu.yml", "upgrade-check.yml"}


@pytest.mark.parametrize("path", WORKFLOWS, ids=lambda p: p.name)
def test_workflow_parses_and_its_commands_exist(path):
    workflow = yaml.safe_load(path.read_text())
    triggers = workflow.get("on", workflow.get(True))  # YAML 1.1 reads a bare `on` as True
    assert triggers and workflow["jobs"], path.name
    commands = list(_runs(workflow))
    assert commands
    for line in commands:
        words = shlex.split(_concrete(line))
        words = [w for w in words if not re.match(r"^[A-Z_]+=", w)]  # VAR=value prefixes
        if words[0] == "make":
            assert all(t in TARGETS for t in words[1:] if "=" not in t), line
        elif "-m" in words and words[words.index("-m") + 1] == "parity":
            args = words[words.index("-m") + 2:]
            try:
                build_parser().parse_args(args)
            except BadInput as e:
                pytest.fail(f"{path.name}: {line}: {e}")


def test_ci_runs_the_readme_test_command():
    assert "make test" in list(_runs(yaml.safe_load((ROOT / ".github/workflows/ci.yml")
                                                    .read_text())))


def test_nightly_runs_cuda_with_tf32_off_and_on_against_a_cpu_record():
    nightly = yaml.safe_load((ROOT / ".github/workflows/nightly-gpu.yml").read_text())
    assert nightly["jobs"]["gpu"]["strategy"]["matrix"]["tf32"] == ["off", "on"]
    text = " ".join(_runs(nightly))
    assert "parity record" in text and "--reference" in text and "--device cuda" in text
    assert "parity compare" in text and "self-hosted" in nightly["jobs"]["gpu"]["runs-on"]
