"""requirements.lock: every transitive package pinned with hashes (make lock), in agreement with
requirements.in's top-level pins and pyproject.toml's ranges, and what make venv installed."""
import os
import re
import tomllib
from importlib import metadata
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
SAME_PACKAGE = {"tensorflow": "tensorflow-cpu"}  # the tf extra; the lock has the CPU build


def _locked() -> dict[str, tuple[str, list[str]]]:
    """name -> (version, hashes) from requirements.lock."""
    entries, name = {}, None
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        if m := re.match(r"^([A-Za-z0-9_.-]+)==(\S+)", line):
            name = canonicalize_name(m[1])
            assert name not in entries, f"{name} pinned twice"
            entries[name] = (m[2], [])
        elif m := re.match(r"^\s+--hash=sha256:([0-9a-f]{64})", line):
            entries[name][1].append(m[1])
    return entries


SIDE_ENVIRONMENTS = {"converters": "requirements-converters.txt"}
"""Extras installed in an environment of their own (make venv-converters), pinned there."""


def _pins(path: Path) -> dict[str, str]:
    return {canonicalize_name(m[1]): m[2] for line in path.read_text().splitlines()
            if (m := re.match(r"^([A-Za-z0-9_.-]+)==(\S+)", line))}


def test_each_side_environments_extra_is_pinned_there_within_pyprojects_ranges():
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"]
    for extra, file in SIDE_ENVIRONMENTS.items():
        pins = _pins(ROOT / file)
        for text in extras[extra]:
            req = Requirement(text)
            name = canonicalize_name(req.name)
            assert name in pins, f"pyproject.toml's {extra} extra needs {req}, {file} lacks it"
            assert req.specifier.contains(Version(pins[name])), \
                f"pyproject.toml says {req}, {file} pins {name}=={pins[name]}"
            assert name not in _locked(), f"{name} is in requirements.lock and in {file}"


def _top_level() -> dict[str, str]:
    pins = {}
    for line in (ROOT / "requirements.in").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, version = line.partition("==")
            pins[canonicalize_name(name)] = version.strip()
    return pins


def _no_deps() -> dict[str, tuple[str, list[str]]]:
    """name -> (version, hashes) from requirements-nodeps.txt (installed without dependencies)."""
    entries, name = {}, None
    for line in (ROOT / "requirements-nodeps.txt").read_text().splitlines():
        if m := re.match(r"^([A-Za-z0-9_.-]+)==(\S+)", line):
            name = canonicalize_name(m[1])
            entries[name] = (m[2], [])
        elif m := re.match(r"^\s+--hash=sha256:([0-9a-f]{64})", line):
            entries[name][1].append(m[1])
    return entries


def test_every_package_installed_without_dependencies_is_pinned_with_a_hash_and_not_locked():
    no_deps = _no_deps()
    assert no_deps and all(hashes for _, hashes in no_deps.values())
    assert not set(no_deps) & set(_locked())


def test_every_locked_package_has_a_version_and_hashes():
    locked = _locked()
    assert len(locked) > 40  # the transitive closure, not the top-level pins alone
    assert not [n for n, (_, hashes) in locked.items() if not hashes]


def test_the_lock_holds_requirements_in_pins_and_satisfies_pyprojects_ranges():
    locked = _locked()
    top = _top_level()
    assert {n: locked.get(n, (None,))[0] for n in top} == top
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    declared = project["dependencies"] + [r for name, extra in
                                          project["optional-dependencies"].items()
                                          if name not in SIDE_ENVIRONMENTS for r in extra]
    for text in declared:
        req = Requirement(text)
        name = canonicalize_name(SAME_PACKAGE.get(req.name, req.name))
        assert name in locked, f"pyproject.toml needs {req}, requirements.lock lacks {name}"
        version = Version(locked[name][0])
        assert req.specifier.contains(version, prereleases=True), \
            f"pyproject.toml says {req}, requirements.lock pins {name}=={version}"


def test_the_environment_is_the_lock():
    """Every locked package is installed at its locked version; where CI built the venv with
    make venv, nothing else is installed either (pip and parity itself aside)."""
    installed = {canonicalize_name(d.metadata["Name"]): d.version
                 for d in metadata.distributions()}
    locked = {n: v for n, (v, _) in (_locked() | _no_deps()).items()}
    wrong = {n: (v, installed.get(n)) for n, v in locked.items()
             if Version(installed.get(n, "0")) != Version(v)}
    assert not wrong, f"(locked, installed): {wrong}"
    if os.environ.get("CI"):
        extra = set(installed) - set(locked) - {"pip", "parity"}
        assert not extra, f"installed but not locked: {sorted(extra)}"
