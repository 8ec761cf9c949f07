"""Reference archives: TensorFlow's side of a set of cases, recorded once, compared anywhere.

``parity record --out ARCHIVE.npz`` runs only the TF side of each planned case and stores its
outputs (arrays in the ``.npz``; refusals, warnings and non-array outputs such as the fans of an
initializer in a JSON manifest inside it). Inputs are not stored: they are regenerated from the
case seeds. ``parity run --reference ARCHIVE.npz`` re-runs the archive's cases with the torch
sides only and judges them against the stored TF results, without importing TensorFlow: that
is how a GPU machine without TF, or a torch-only upgrade, is checked. Cases whose variants share
a TF side (e.g. ``port`` and ``native``) share one stored result.

Example:
    >>> key_of("conv2d_same", "tf_nn", {"rank": 2}, 3).split(":")[::3]
    ['conv2d_same', '3']
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from parity import registry
from parity.numerics import stable_hash

FORMAT = 1
_MANIFEST = "__manifest__"


class ArchiveError(ValueError):
    pass


def key_of(op: str, tf_side: str, config: dict, seed: int) -> str:
    return f"{op}:{tf_side}:{stable_hash(json.dumps(config, sort_keys=True))}:{seed}"


def _tf_side_name(op_name: str, variant: str) -> str:
    return registry.get(op_name).variant(variant).tf


def _jsonable(value):
    if isinstance(value, tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    return value


def record(plan: list, path: str | Path, environment: dict, progress=None) -> Path:
    """Run the TF side of every case of ``plan`` once; write the archive to ``path``."""
    from parity.runner import tf_result

    path = Path(path)
    entries: dict[str, dict] = {}
    arrays: dict[str, np.ndarray] = {}
    cases = []
    for i, (op, variant, config, seed) in enumerate(plan):
        if progress:
            progress(i, len(plan))
        key = key_of(op, _tf_side_name(op, variant), config, seed)
        cases.append([op, variant, config, seed, key])
        if key in entries:
            continue
        out, err, warnings = tf_result(op, variant, config, seed)
        entry = {"error": err, "warnings": warnings, "arrays": [], "extras": {}}
        for name, value in (out or {}).items():
            if isinstance(value, np.ndarray):
                arrays[f"{key}/{name}"] = value
                entry["arrays"].append(name)
            else:
                entry["extras"][name] = _jsonable(value)
        entry["refused"] = out is None
        entries[key] = entry
    manifest = {"format": FORMAT, "environment": environment, "cases": cases, "entries": entries}
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        np.savez_compressed(f, **{_MANIFEST: np.array(json.dumps(manifest))}, **arrays)
    return path


class Archive:
    """A loaded archive: its cases and, per case, the recorded TF result."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        try:
            self._data = np.load(self.path, allow_pickle=False)
            self.manifest = json.loads(str(self._data[_MANIFEST]))
        except (OSError, ValueError, KeyError) as e:
            raise ArchiveError(f"cannot read reference archive {path}: {e}") from None
        if self.manifest.get("format") != FORMAT:
            raise ArchiveError(f"{path}: archive format {self.manifest.get('format')!r}, "
                               f"this parity reads {FORMAT}")

    @property
    def plan(self) -> list:
        return [tuple(c[:4]) for c in self.manifest["cases"]]

    @property
    def environment(self) -> dict:
        return self.manifest.get("environment", {})

    def tf_result(self, op: str, variant: str, config: dict, seed: int):
        """(outputs or None, refusal message, warnings) as the TF side gave them."""
        key = key_of(op, _tf_side_name(op, variant), config, seed)
        entry = self.manifest["entries"].get(key)
        if entry is None:
            raise ArchiveError(f"{self.path} holds no TF result for {op}/{variant} seed {seed}")
        if entry["refused"]:
            return None, entry["error"], entry["warnings"]
        out = {name: np.array(self._data[f"{key}/{name}"]) for name in entry["arrays"]}
        out.update(entry["extras"])
        return out, entry["error"], entry["warnings"]
