"""Reference archives: TensorFlow's side of a set of cases, recorded once, compared anywhere.

``parity record --out ARCHIVE.npz`` (``parity.flows.record``) runs only the TF side of each planned case and stores its
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

from parity.spec import registry
from parity.core.numerics import stable_hash
from parity.core.outputs import write_atomic

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


def narrowest(a: np.ndarray) -> np.ndarray:
    """``a`` as float32 when that holds every value exactly (TF's float32, float16 and bfloat16
    outputs, which the sides hand over as float64): the same values in half the memory once
    read (on disk deflate already squeezed the zero low bits: dev plan 12.99 to 12.59 MB on
    disk, 25.6 to 19.7 MiB decompressed).

    >>> narrowest(np.array([0.5, 1e-3])).dtype, narrowest(np.array([0.5, 0.25])).dtype
    (dtype('float64'), dtype('float32'))
    """
    if a.dtype == np.float64:
        with np.errstate(over="ignore", invalid="ignore"):
            narrow = a.astype(np.float32)
        if np.array_equal(narrow.astype(np.float64), a, equal_nan=True):
            return narrow
    return a


def write(path: str | Path, cases: list, entries: dict, arrays: dict, environment: dict,
          complete: bool, shapes: str = "small") -> None:
    """The archive of ``cases`` ([op, variant, config, seed, key]), their TF results
    (``entries`` by key, ``arrays`` by ``key/name``) to ``path``, atomically (a temporary file
    renamed over it: a full disk leaves the old file, never a partial one)."""
    manifest = {"format": FORMAT, "complete": complete, "environment": environment,
                "shapes": shapes, "cases": cases, "entries": entries}
    write_atomic(Path(path), lambda f: np.savez_compressed(
        f, **{_MANIFEST: np.array(json.dumps(manifest, allow_nan=False))}, **arrays))


def entry_of(out: dict | None, err, warnings, key: str, arrays: dict) -> dict:
    """The manifest entry of one TF result; its arrays go into ``arrays`` (narrowed)."""
    entry = {"error": err, "warnings": warnings, "arrays": [], "extras": {}}
    for name, value in (out or {}).items():
        if isinstance(value, np.ndarray):
            arrays[f"{key}/{name}"] = narrowest(value)
            entry["arrays"].append(name)
        else:
            entry["extras"][name] = _jsonable(value)
    entry["refused"] = out is None
    return entry


def tf_side_key(op: str, variant: str, config: dict, seed: int) -> str:
    """The key of a case's TF result: cases whose variants share a TF side share it."""
    return key_of(op, _tf_side_name(op, variant), config, seed)


MAX_BYTES = 4 * 2**30
"""The most an archive may decompress to (``PARITY_ARCHIVE_MAX_BYTES`` overrides): a crafted
zip cannot fill the memory (each member is read only up to the size its header declares)."""

_ENTRY = {"type": "object", "required": ["error", "warnings", "arrays", "extras", "refused"],
          "additionalProperties": False,
          "properties": {"error": {"type": ["string", "null"]},
                         "warnings": {"type": "array", "items": {"type": "string"}},
                         "arrays": {"type": "array", "items": {"type": "string"}},
                         "extras": {"type": "object"}, "refused": {"type": "boolean"}}}
MANIFEST_SCHEMA = {
    "type": "object", "required": ["format", "environment", "cases", "entries"],
    "properties": {
        "format": {"type": "integer"}, "complete": {"type": "boolean"},
        "shapes": {"enum": ["small", "realistic"]},
        "environment": {"type": "object"},
        "cases": {"type": "array", "items": {
            "type": "array", "minItems": 5, "maxItems": 5,
            "prefixItems": [{"type": "string"}, {"type": "string"}, {"type": "object"},
                            {"type": "integer", "minimum": 0}, {"type": "string"}]}},
        "entries": {"type": "object", "additionalProperties": _ENTRY}}}


def _max_bytes() -> int:
    import os

    try:
        return int(os.environ.get("PARITY_ARCHIVE_MAX_BYTES", MAX_BYTES))
    except ValueError:
        return MAX_BYTES


def _widened(a: np.ndarray) -> np.ndarray:
    """A stored float32 array back as the float64 the sides hand over (exact)."""
    return a.astype(np.float64) if a.dtype == np.float32 else a


class Archive:
    """A loaded archive, checked whole before any case runs: a zip of ``.npy`` members within
    ``MAX_BYTES``, every member's header agreeing with its size, a manifest of the current
    format that matches ``MANIFEST_SCHEMA``, every case a known op/variant with a valid config
    and the key of its TF side, every entry's arrays present. Any problem is a one-line
    ``ArchiveError``."""

    def __init__(self, path: str | Path):
        import zipfile

        self.path = Path(path)
        what = f"reference archive {path}"
        try:
            self._zip = zipfile.ZipFile(self.path)
            infos = self._zip.infolist()
        except OSError as e:
            raise ArchiveError(f"cannot read {what}: {e.strerror or e}") from None
        except (zipfile.BadZipFile, ValueError, EOFError) as e:
            raise ArchiveError(f"cannot read {what}: not an archive written by parity record "
                               f"({e})") from None
        total = sum(i.file_size for i in infos)
        if total > _max_bytes():
            raise ArchiveError(f"{what} decompresses to {total / 2**30:.1f} GiB, more than the "
                               f"{_max_bytes() / 2**30:.1f} GiB parity reads "
                               "(PARITY_ARCHIVE_MAX_BYTES)")
        self._members = {i.filename: i for i in infos}
        if f"{_MANIFEST}.npy" not in self._members:
            raise ArchiveError(f"cannot read {what}: no manifest (not written by parity record)")
        from parity.report.io import ReportError, parse_json

        try:
            self.manifest = parse_json(str(self._array(_MANIFEST)).encode(), f"{what}'s manifest")
        except ReportError as e:
            raise ArchiveError(str(e)) from None
        self._check()

    def _array(self, name: str) -> np.ndarray:
        """One member, after checking that its header's shape and dtype fit its size."""
        import zipfile

        info = self._members.get(f"{name}.npy")
        if info is None:
            raise ArchiveError(f"{self.path} has no array {name!r}")
        fmt = np.lib.format
        try:
            with self._zip.open(info) as f:
                version = fmt.read_magic(f)
                shape, _, dtype = (fmt.read_array_header_1_0 if version == (1, 0)
                                   else fmt.read_array_header_2_0)(f)
                size = f.tell() + int(np.prod(shape, dtype=object)) * dtype.itemsize
            if dtype.hasobject or size != info.file_size:
                raise ValueError(f"its header claims {size} bytes, it holds {info.file_size}")
            with self._zip.open(info) as f:
                return fmt.read_array(f, allow_pickle=False)
        except (ValueError, OSError, EOFError, zipfile.BadZipFile) as e:
            raise ArchiveError(f"{self.path}: array {name!r} is corrupt: {e}") from None

    def _check(self) -> None:
        import jsonschema

        from parity.core.config import ConfigError

        m, what = self.manifest, f"reference archive {self.path}"
        if not isinstance(m, dict):
            raise ArchiveError(f"{what}: its manifest is not a JSON object")
        if m.get("format") != FORMAT:
            raise ArchiveError(f"{what}: archive format {m.get('format')!r}, this parity reads "
                               f"{FORMAT}")
        try:
            jsonschema.validate(m, MANIFEST_SCHEMA)
        except jsonschema.ValidationError as e:
            where = "/".join(str(p) for p in e.absolute_path) or "(top)"
            raise ArchiveError(f"{what}: manifest does not match its schema at {where}: "
                               f"{e.message[:200]}") from None
        for i, (op, variant, config, seed, key) in enumerate(m["cases"]):
            try:
                registry.get(op).parse_config(config)
                expected = key_of(op, _tf_side_name(op, variant), config, seed)
            except (registry.UnknownOp, ConfigError) as e:
                raise ArchiveError(f"{what}: case {i + 1}: {e}") from None
            entry = m["entries"].get(key)
            if key != expected or entry is None:
                raise ArchiveError(f"{what}: case {i + 1} ({op}/{variant}) has no recorded TF "
                                   "result under its key")
            missing = [a for a in entry["arrays"] if f"{key}/{a}.npy" not in self._members]
            if missing:
                raise ArchiveError(f"{what}: case {i + 1} ({op}/{variant}) lacks array(s) "
                                   f"{', '.join(missing)}")

    @property
    def complete(self) -> bool:
        return self.manifest.get("complete", True)

    @property
    def shapes(self) -> str:
        return self.manifest.get("shapes", "small")

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
        out = {name: _widened(self._array(f"{key}/{name}")) for name in entry["arrays"]}
        out.update(entry["extras"])
        return out, entry["error"], entry["warnings"]
