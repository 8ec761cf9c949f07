"""The package's layers, as pyproject.toml's import-linter contracts declare them: each layer
imports only those below it, the library never imports the CLI, the two backends never import
each other, no import cycles. Imports inside functions count (grimp reads every import
statement of a module, wherever it stands). A planted upward import and a planted cycle are
caught."""
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINT = Path(sys.executable).with_name("lint-imports")


def _lint(root: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(LINT), "--config", str(root / "pyproject.toml"), "--no-cache"],
                          cwd=root, capture_output=True, text=True, timeout=300,
                          env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"})


def cycles(package: str, root: Path) -> list[list[str]]:
    """The import cycles among ``package``'s modules (strongly connected components of more
    than one module), read by grimp in a process whose path starts at ``root``."""
    code = f"""
import json, grimp
g = grimp.build_graph({package!r}, include_external_packages=False, cache_dir=None)
edges = {{m: sorted(g.find_modules_directly_imported_by(m)) for m in g.modules}}
index, low, stack, on, found, counter = {{}}, {{}}, [], set(), [], [0]
for start in sorted(edges):
    if start in index:
        continue
    work = [(start, iter(edges[start]))]
    index[start] = low[start] = counter[0]; counter[0] += 1; stack.append(start); on.add(start)
    while work:
        v, it = work[-1]
        w = next(it, None)
        if w is not None:
            if w not in index:
                index[w] = low[w] = counter[0]; counter[0] += 1; stack.append(w); on.add(w)
                work.append((w, iter(edges[w])))
            elif w in on:
                low[v] = min(low[v], index[w])
            continue
        work.pop()
        if work:
            low[work[-1][0]] = min(low[work[-1][0]], low[v])
        if low[v] == index[v]:
            comp = []
            while True:
                x = stack.pop(); on.discard(x); comp.append(x)
                if x == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))
print(json.dumps(found))
"""
    out = subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True,
                         text=True, timeout=300, env={"PYTHONPATH": str(root)})
    assert out.returncode == 0, out.stderr[-2000:]
    import json

    return json.loads(out.stdout)


def test_every_layer_contract_is_kept():
    done = _lint(ROOT)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    assert "4 kept, 0 broken" in done.stdout
    # no exception is written into the layers: none of their imports is ignored
    assert "each layer imports only the layers below it KEPT\n" in done.stdout


def test_no_module_imports_itself_back_through_others():
    assert cycles("parity", ROOT) == []


@pytest.fixture
def copy(tmp_path):
    """The package and its contracts, copied to plant imports in."""
    shutil.copytree(ROOT / "parity", tmp_path / "parity",
                    ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def _plant(root: Path, module: str, line: str) -> None:
    path = root / (module.replace(".", "/") + ".py")
    path.write_text(path.read_text() + f"\n\ndef _planted():\n    {line}\n")


def test_an_upward_import_inside_a_function_breaks_the_layers(copy):
    _plant(copy, "parity.core.text", "from parity.report import build  # noqa")
    done = _lint(copy)
    assert done.returncode != 0
    assert "each layer imports only the layers below it BROKEN" in done.stdout
    assert "parity.core.text -> parity.report.build" in done.stdout


def test_the_library_importing_the_cli_is_caught(copy):
    _plant(copy, "parity.model.weights", "from parity.cli import main  # noqa")
    done = _lint(copy)
    assert "the library never imports the CLI BROKEN" in done.stdout


def test_a_planted_cycle_is_found(copy):
    _plant(copy, "parity.core.padding", "from parity.core import text  # noqa")
    _plant(copy, "parity.core.text", "from parity.core import padding  # noqa")
    assert cycles("parity", copy) == [["parity.core.padding", "parity.core.text"]]


def test_importing_the_api_loads_no_framework_and_not_the_cli():
    code = ("import sys, parity, parity.api, parity.model; "
            "print(sorted(m for m in ('torch', 'tensorflow', 'keras', 'parity.cli') "
            "if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, cwd=ROOT)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[]"
