"""``parity matrix``: one plan under several device settings, each run more than once.

TF's side is recorded once (``parity record``, or an archive given with ``--reference``); then
the torch side runs against it under each setting (``cpu``; on a CUDA machine also
``cuda-tf32-off``, ``cuda-tf32-on`` and ``cuda-deterministic``), ``repeats`` times each, every
run a ``parity run --reference ... --digests`` child process of its own (a fresh process: cuDNN
picks its algorithms again). The matrix (``matrix.json``, ``matrix.html``) has one cell per op
and setting: the statuses, unexpected cases, the worst bound ratio among agreeing cases, TF32
outcomes, and whether the repeats were bitwise identical (output digests), with links to every
run's own report.

Example:
    >>> SETTINGS["cuda-deterministic"]
    {'device': 'cuda', 'tf32': 'default', 'deterministic': True}
"""
from __future__ import annotations

import json
from pathlib import Path

from parity.backends.onednn import LEVELS

SETTINGS = {
    "cpu": {"device": "cpu", "tf32": "default", "deterministic": False},
    "cuda-tf32-off": {"device": "cuda", "tf32": "off", "deterministic": False},
    "cuda-tf32-on": {"device": "cuda", "tf32": "on", "deterministic": False},
    "cuda-deterministic": {"device": "cuda", "tf32": "default", "deterministic": True},
    "cpu-onednn-off": {"device": "cpu", "tf32": "default", "deterministic": False,
                       "env": {"TF_ENABLE_ONEDNN_OPTS": "0"}},
    **{f"cpu-isa-{level}": {"device": "cpu", "tf32": "default", "deterministic": False,
                            "env": {"TF_ENABLE_ONEDNN_OPTS": "1",
                                    "ONEDNN_MAX_CPU_ISA": level.upper()}}
       for level in LEVELS},
}
"""``env``: a setting that changes TF's CPU kernels (oneDNN off, or capped at one ISA level, as
an older CPU has it); TF is run again under it, in a fresh process, so it needs TensorFlow and
takes no ``--reference``. ``cpu-isa`` names every such level this machine reaches, and oneDNN off."""
CPU_KERNEL_SETTINGS = [n for n, s in SETTINGS.items() if "env" in s]
MATRIX_VERSION = 1
AGREEING = ("pass", "tf32")


class MatrixFailed(Exception):
    """A child run that ended otherwise than with its verdict (exit 0 or 1); one line."""

    def __init__(self, message: str, code: int):
        super().__init__(message)
        self.code = code


def default_settings(cuda: bool) -> list[str]:
    """Every device setting this machine can run: ``cpu``, and the CUDA ones where CUDA is
    (the settings of TF's CPU kernels only when named: they re-run TF)."""
    return [n for n, s in SETTINGS.items() if "env" not in s and (cuda or s["device"] == "cpu")]


def reached_isa(setting: str) -> str:
    """The ISA oneDNN dispatches to under ``setting``'s variables (measured by a child TF,
    ``parity.backends.onednn``; cached), ``""`` where oneDNN is off."""
    import os
    from unittest import mock

    from parity.backends import onednn

    with mock.patch.dict(os.environ, SETTINGS[setting].get("env", {})):
        return onednn.dispatched()["isa"]


def reachable(setting: str) -> bool:
    """Whether this machine's oneDNN runs at ``setting``'s level (a cap above the CPU's best
    ISA is the CPU's best: that level is not reached here)."""
    env = SETTINGS[setting].get("env", {})
    if "ONEDNN_MAX_CPU_ISA" not in env:
        return True
    return reached_isa(setting) == env["ONEDNN_MAX_CPU_ISA"].lower()


def _failed(code: int, what: str, log: Path) -> int:
    """``code`` of a child that ran (0 or 1), else ``MatrixFailed`` with its log's last line."""
    if code not in (0, 1):
        lines = [ln for ln in log.read_text(errors="replace").splitlines() if ln.strip()]
        raise MatrixFailed(f"{what} exited {code}: {lines[-1] if lines else '(no output)'} "
                           f"(log: {log})", code)
    return code


def _child(kwargs: dict, what: str, log: Path) -> int:
    """``runs.matrix_child(**kwargs)`` in a process of its own (forked from the preloaded
    server: no 2-5 s of imports per child) with its output in ``log``; its exit code (0 or 1),
    else ``MatrixFailed`` with its last line."""
    from parity.exec import forking

    return _failed(forking.run_target(CHILD, kwargs, log), what, log)


def _fresh_child(kwargs: dict, env: dict, what: str, log: Path) -> int:
    """The same in a new interpreter with ``env`` added (TF reads its oneDNN variables when it
    loads: a fork of the preloaded server would keep the parent's kernels)."""
    import json
    import os
    import signal
    import subprocess
    import sys

    with open(log, "wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "parity.exec.target", CHILD,
                                 json.dumps(kwargs)], stdout=out, stderr=subprocess.STDOUT,
                                env={**os.environ, **env}, start_new_session=True)
        try:
            code = proc.wait()
        except BaseException:  # interrupted: the child and its workers end with the matrix
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
            raise
    return _failed(code, what, log)


CHILD = "parity.flows.runs:matrix_child"
"""What a matrix child runs: a library function, named (a child imports it itself)."""

SELECTING = ("ops", "variants", "dtypes")
"""The parts of a selection that pick cases from a recorded archive (the rest plan them)."""


def record(out_dir: Path, selection: dict, progress=None) -> Path:
    """TF's side of the plan ``selection`` makes, recorded once in ``out_dir/tf.npz``."""
    archive = out_dir / "tf.npz"
    if progress:
        progress("recording TF's side")
    _child({"out": str(archive), "selection": selection, "record": True}, "the TF record",
           out_dir / "record.log")
    return archive


def device_setting(setting: str) -> dict:
    s = SETTINGS[setting]
    return {"device": s["device"], "tf32": s["tf32"], "deterministic": s["deterministic"]}


def run_settings(archive: Path | None, settings: list[str], repeats: int, out_dir: Path,
                 selection: dict, progress=None,
                 reports: dict | None = None) -> dict[str, list[Path]]:
    """Each setting ``repeats`` times: {setting: [report paths]} (filled in ``reports`` as the
    runs finish, so an interrupted matrix keeps them). Device settings run torch against
    ``archive``, on the cases ``selection``'s ops, variants and dtypes pick; the settings of
    TF's CPU kernels run both frameworks afresh on the plan ``selection`` makes."""
    reports = {} if reports is None else reports
    picking = {k: v for k, v in selection.items() if k in SELECTING}
    for setting in settings:
        for r in range(1, repeats + 1):
            where = out_dir / f"{setting}-{r}"
            if progress:
                progress(f"{setting}, run {r} of {repeats}")
            where.mkdir(parents=True, exist_ok=True)
            env = SETTINGS[setting].get("env")
            what = f"the {setting} run {r}"
            kwargs = {"out": str(where), "setting": device_setting(setting)}
            if env is not None:
                _fresh_child(kwargs | {"selection": selection}, env, what, where / "run.log")
            else:
                _child(kwargs | {"selection": picking, "reference": str(archive)}, what,
                       where / "run.log")
            reports.setdefault(setting, []).append(where / "latest.json")
    return reports


def entries(loaded: dict[str, list[dict]]) -> dict[str, dict]:
    """Per registry entry and setting, from each setting's first run: the cases that exercised
    it and those that reproduced it (the entry x setting table of TF's CPU kernels)."""
    out: dict[str, dict] = {}
    for setting, runs in loaded.items():
        for d in runs[0].get("divergences", []):
            if d.get("exercised") or d.get("reproduced"):
                out.setdefault(d["id"], {})[setting] = {"exercised": d["exercised"],
                                                        "reproduced": d["reproduced"]}
    return dict(sorted(out.items()))


def _digests(case: dict) -> dict[str, str]:
    return {n: m["torch_digest"] for n, m in case["outputs"].items() if "torch_digest" in m}


def repeatability(runs: list[dict], op: str) -> dict:
    """Per op: cases whose torch outputs were compared bitwise across the runs, and those
    (and which outputs) that differed in some run."""
    first = {c["id"]: _digests(c) for c in runs[0]["cases"] if c["op"] == op}
    later = [{c["id"]: _digests(c) for c in r["cases"] if c["op"] == op} for r in runs[1:]]
    compared, differing, outputs = 0, 0, set()
    for case_id, digests in first.items():
        if not digests:
            continue
        others = [o for o in (run.get(case_id) for run in later) if o]
        if not others:
            continue
        compared += 1
        changed = {n for o in others for n, d in o.items() if digests.get(n) != d}
        if changed:
            differing += 1
            outputs |= changed
    return {"compared": compared, "differing": differing, "outputs": sorted(outputs)}


def cell(runs: list[dict], op: str) -> dict:
    """One op under one setting: the first run's statuses and worst ratios, and the bitwise
    comparison of all its runs."""
    from parity.report.build import unexpected

    cases = [c for c in runs[0]["cases"] if c["op"] == op]
    counts: dict[str, int] = {}
    for c in cases:
        counts[c["status"]] = counts.get(c["status"], 0) + 1
    agreeing = [c["max_bound_ratio"] for c in cases
                if c["status"] in AGREEING and c["max_bound_ratio"] is not None]
    tf32 = [m["bound_ratio_tf32"] for c in cases for m in c["outputs"].values()
            if m.get("bound_ratio_tf32") is not None]
    return {"cases": len(cases), "counts": counts,
            "unexpected": sum(1 for r in runs for c in r["cases"]
                              if c["op"] == op and unexpected(c)),
            "worst_agreeing_ratio": max(agreeing) if agreeing else None,
            "worst_ratio_tf32": max(tf32) if tf32 else None,
            "repeats": len(runs), "bitwise": repeatability(runs, op) if len(runs) > 1 else None}


def build(archive: Path, reports: dict[str, list[Path]], out_dir: Path) -> dict:
    """The matrix of the runs' reports (each loaded and checked)."""
    from parity.report import load_report

    loaded = {s: [load_report(p) for p in paths] for s, paths in reports.items()}
    ops = sorted({c["op"] for runs in loaded.values() for r in runs for c in r["cases"]})
    settings = []
    for s, runs in loaded.items():
        env = runs[0]["environment"]
        settings.append({"name": s, **SETTINGS[s],
                         "onednn": (env.get("facts") or {}).get("onednn"),
                         "isa": (env.get("facts") or {}).get("isa"),
                         "reports": [str(p.relative_to(out_dir)) for p in reports[s]],
                         "complete": all(r["complete"] for r in runs),
                         "numerics": env.get("numerics", {}), "packages": env.get("packages", {})})
    cells = {op: {s: cell(runs, op) for s, runs in loaded.items()} for op in ops}
    return {"matrix_version": MATRIX_VERSION, "archive": str(archive) if archive else None,
            "settings": settings, "ops": ops, "cells": cells, "entries": entries(loaded),
            "unexpected": sum(c["unexpected"] for row in cells.values() for c in row.values()),
            "complete": all(s["complete"] for s in settings)}


def write(matrix: dict, out_dir: Path) -> tuple[Path, Path]:
    """``matrix.json`` and ``matrix.html`` in ``out_dir``, each written atomically."""
    from parity.core.outputs import write_atomic
    from parity.report.io import write_page

    json_path = out_dir / "matrix.json"
    write_atomic(json_path, lambda f: f.write(json.dumps(matrix, indent=1).encode()))
    return json_path, write_page(render_html(matrix), out_dir / "matrix.html")


def render_html(matrix: dict) -> str:
    from jinja2 import Environment, PackageLoader, select_autoescape

    env = Environment(loader=PackageLoader("parity.report", "templates"),
                      autoescape=select_autoescape(["html", "j2"]), trim_blocks=True,
                      lstrip_blocks=True)
    return env.get_template("matrix.html.j2").render(matrix=matrix)
