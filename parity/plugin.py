"""pytest plugin: the cases of a plan as test items, run by pytest-xdist workers.

``parity run --workers N`` writes its plan to ``<dir>/cases.parity-plan.json`` and runs
``pytest -n N -p parity.plugin <plan> --parity-records <file>``. Each item runs one case
(``run_case`` never raises) and hands its record to the controller in ``user_properties``; the
controller appends every record to the records file as it arrives (JSON lines). A worker that
dies (a segfault in a kernel) takes only its in-flight case with it: xdist reports that item as
crashed, and the controller records it as an ``error`` case naming the worker; the others go on.
"""
from __future__ import annotations

import json

import pytest

PLAN_SUFFIX = ".parity-plan.json"
RECORD_KEY = "parity_record"


def pytest_addoption(parser):
    parser.addoption("--parity-records", help="JSON-lines file the controller writes records to")
    parser.addoption("--parity-divergences", help="registry path (default: the project's)")


def pytest_collect_file(file_path, parent):
    if file_path.name.endswith(PLAN_SUFFIX):
        return PlanFile.from_parent(parent, path=file_path)
    return None


class PlanFile(pytest.File):
    def collect(self):
        for index, (op, variant, config, seed) in enumerate(json.loads(self.path.read_text())):
            yield CaseItem.from_parent(self, name=f"{index:07d}", index=index, op=op,
                                       variant=variant, case_config=config, seed=seed)


class CaseItem(pytest.Item):
    def __init__(self, *, index, op, variant, case_config, seed, **kwargs):
        super().__init__(**kwargs)
        self.index, self.op, self.variant, self.case_config, self.seed = \
            index, op, variant, case_config, seed

    def runtest(self):
        from parity.runner import run_case

        registry = _registry(self.config.getoption("parity_divergences"))
        rec = run_case(self.op, self.variant, self.case_config, self.seed, divergences=registry)
        self.user_properties.append((RECORD_KEY, json.dumps({"index": self.index, "record": rec},
                                                            allow_nan=False)))

    def reportinfo(self):
        return self.path, None, f"{self.op}/{self.variant} seed={self.seed}"


_REGISTRIES: dict = {}


def _registry(path):
    from parity.divergences import Registry

    if path not in _REGISTRIES:
        _REGISTRIES[path] = Registry.load(path)
    return _REGISTRIES[path]


def _is_controller(config) -> bool:
    return not hasattr(config, "workerinput")


@pytest.hookimpl(trylast=True)
def pytest_runtest_logreport(report):
    config = _CONFIG.get("config")
    if config is None or not _is_controller(config):
        return
    path = config.getoption("parity_records")
    if not path:
        return
    line = next((v for k, v in report.user_properties if k == RECORD_KEY), None)
    if line is None and report.failed:  # the worker died under this case
        index = int(report.nodeid.rsplit("::", 1)[-1])
        line = json.dumps({"index": index, "crashed": str(report.longrepr)[:400]})
    if line is not None:
        with open(path, "a") as f:
            f.write(line + "\n")


_CONFIG: dict = {}


def pytest_configure(config):
    _CONFIG["config"] = config
