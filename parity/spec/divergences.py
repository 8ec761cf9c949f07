"""The known-divergence registry (``parity/spec/divergences.toml``, shipped inside the package).

Each entry scopes a divergence by op, variant, dtype and a predicate over the
config, names the statuses it explains, and states mechanism, references and
expected magnitude. A case whose raw status is explained becomes
``known_divergence`` (a ``fail``) or keeps its rejection status with the entry's
id; every entry also counts the cases that exercised its scope and those that
reproduced it, so an entry whose scope ran but never reproduced is visible.

Predicates are expressions over the config fields (and the op's derived names) plus ``op``
and ``variant``, in the small language of ``parity.core.predicate`` (comparisons, boolean and
arithmetic operators, subscripts, generator expressions, and the helpers ``min``, ``max``,
``any``, ``all``, ``len``, ``sum``, ``zip``, ``abs``, ``range``, ``startswith``,
``endswith``), e.g. ``"max(stride) > 1 and max(dilation) > 1"``: a registry file is data,
never code. ``Registry.load`` checks the whole file before any case runs: the ``divergence``
array of tables, unique ids, known ops, tags, variants and statuses, and predicates that parse
and name only fields every op of the entry has.

An entry names its ops, or tags (``tags = ["same-conv"]``): every op that carries one of the
tags (``OpPair.tags``: what it is built from, e.g. TF's SAME convolution) is in scope, so a new
op inherits the entries that apply to what it uses without editing them.

``outputs`` names the outputs a divergence affects (empty: all): a ``fail`` is explained only
when every output that failed is among them. ``judge = "reference"`` marks TensorFlow as the
wrong side for those outputs: in scope the float64 reference judges them (for every variant,
audited candidates included), and the entry explains a case only where TF disagreed with a
torch side that the reference accepted. So no entry can excuse a candidate that is wrong
against the reference.

No entry excuses parity's own port either: on the ``port`` variants (``OWN_VARIANTS``) an entry
judged by TF cannot explain an output on which the port is the side farther from the reference
(``torch_farther``); the case stays a ``fail`` and names the entry it was refused.
"""
from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from parity.core.predicate import Predicate, PredicateError

DEFAULT_PATH = Path(__file__).resolve().parent / "divergences.toml"
"""The shipped registry, inside the package (a wheel carries it)."""
USER_ENV = "PARITY_DIVERGENCES"
"""Registries of the user's own, ``os.pathsep``-separated: they add entries to the shipped one
(``--divergences FILE``)."""
EXPLAINABLE = ("fail", "rejected_tf", "rejected_torch", "rejected_both")
JUDGES = ("tf", "reference")
ENVIRONMENT_NAMES = {"onednn", "isa", "onednn_dtypes", "cpu", "device", "tf32", "deterministic", "platform", "machine",
                     "torch", "tensorflow", "keras", "cuda", "cudnn", "dtype"}
"""What an entry's ``environment`` predicate may name: ``parity.backends.environment.facts()``, and the
case's ``dtype`` (TF's oneDNN kernels exist for some dtypes only: ``not onednn or dtype in
('float16', 'float64')``)."""
ALL_DTYPES = ("float16", "bfloat16", "float32", "float64")
OWN_VARIANTS = ("port",)
"""Variants whose torch side is ``parity.ports``: what no entry may excuse."""


class RegistryError(ValueError):
    pass


@dataclass
class Divergence:
    id: str
    statuses: list[str]
    mechanism: str
    magnitude: str
    ops: list[str] = field(default_factory=list)        # by name; with ``tags``, at load, every
    tags: list[str] = field(default_factory=list)       # op that carries one of the tags too
    variants: list[str] = field(default_factory=list)   # empty: every variant
    dtypes: list[str] = field(default_factory=list)     # empty: every dtype
    when: str = "True"
    references: list[str] = field(default_factory=list)
    # real, but below the power of the default sample sizes: cases in scope fail only sometimes,
    # so a run that never reproduces it is not flagged
    intermittent: bool = False
    outputs: list[str] = field(default_factory=list)    # empty: every output
    judge: str = "tf"   # "reference": TF is wrong on ``outputs``; the float64 reference judges
    # predicate over ``parity.backends.environment.facts()``: onednn, cpu (flags), device, tf32,
    # deterministic, platform, machine, torch/tensorflow/keras versions (version_in), cuda, cudnn
    environment: str = "True"
    exercised: int = 0
    reproduced: int = 0

    def __post_init__(self):
        try:
            self._predicate = Predicate(self.when, label=f"divergence {self.id}: predicate")
            self._env_predicate = Predicate(self.environment, ENVIRONMENT_NAMES,
                                            label=f"divergence {self.id}: environment")
        except PredicateError as e:
            raise RegistryError(str(e)) from None
        if self.judge not in JUDGES:
            raise RegistryError(f"divergence {self.id}: judge must be one of {JUDGES}, "
                                f"got {self.judge!r}")
        if self.judge == "reference" and (not self.outputs or self.statuses != ["fail"]):
            raise RegistryError(f"divergence {self.id}: judge = 'reference' needs the outputs "
                                "TF gets wrong and statuses = ['fail']")

    def in_environment(self, recorded: dict | None = None, dtype: str | None = None) -> bool:
        """Whether the entry applies on this machine, or where ``recorded`` facts were taken
        (a report's ``environment.facts``), to cases of ``dtype`` (None: of some dtype)."""
        return bool(self.environment_dtypes(recorded) & ({dtype} if dtype else set(ALL_DTYPES)))

    def environment_dtypes(self, recorded: dict | None = None) -> set[str]:
        """The dtypes of the entry's cases it applies to under these facts (this machine's, or
        ``recorded``)."""
        dtypes = set(self.dtypes or ALL_DTYPES)
        if self.environment == "True":
            return dtypes
        from parity.backends.environment import facts

        known = facts() if recorded is None else recorded
        try:
            return {d for d in sorted(dtypes) if self._env_predicate(dict(known, dtype=d))}
        except Exception as e:
            raise RegistryError(f"divergence {self.id}: environment {self.environment!r} failed: "
                                f"{type(e).__name__}: {e}") from None

    def in_scope(self, op: str, variant: str, config: dict) -> bool:
        """Whether the case is in the entry's scope on this machine (its environment included)."""
        if not self.in_config_scope(op, variant, config):
            return False
        applies = self._in_env()
        return bool(applies) and (config.get("dtype") is None or config["dtype"] in applies)

    def in_config_scope(self, op: str, variant: str, config: dict) -> bool:
        """Whether the case is in the entry's scope on some machine: op, variant, dtype and the
        ``when`` predicate, leaving the ``environment`` out."""
        if op not in self.ops or (self.variants and variant not in self.variants):
            return False
        if self.dtypes and config.get("dtype") not in self.dtypes:
            return False
        try:
            return self._predicate(dict(config, op=op, variant=variant))
        except Exception as e:
            raise RegistryError(f"divergence {self.id}: predicate {self.when!r} failed on "
                                f"{op}: {type(e).__name__}: {e}") from None

    def _in_env(self) -> set[str]:
        if not hasattr(self, "_env_cache"):
            self._env_cache = self.environment_dtypes()
        return self._env_cache

    def summary(self) -> dict:
        return {"id": self.id, "exercised": self.exercised, "reproduced": self.reproduced,
                "intermittent": self.intermittent,
                "not_reproduced": self.exercised > 0 and self.reproduced == 0 and
                not self.intermittent}


class Registry:
    def __init__(self, entries: list[Divergence]):
        self.entries = entries

    @classmethod
    def load(cls, path: str | Path | None = None) -> "Registry":
        """The shipped registry plus the user's (``PARITY_DIVERGENCES``), or the one file
        ``path`` alone; each file checked whole (one-line ``RegistryError`` on the first
        problem). A user entry whose id the shipped registry (or an earlier user file) holds
        already is refused: a user registry adds entries, it never replaces one."""
        if path is not None:
            return cls(_read(Path(path)))
        entries = _read(DEFAULT_PATH)
        origin = {e.id: DEFAULT_PATH for e in entries}
        for named in filter(None, os.environ.get(USER_ENV, "").split(os.pathsep)):
            for e in _read(Path(named)):
                if e.id in origin:
                    raise RegistryError(
                        f"divergence {e.id} in {named} is already in {origin[e.id]}: a user "
                        "registry adds entries, it cannot replace one (choose another id)")
                origin[e.id] = Path(named)
                entries.append(e)
        return cls(entries)

    def reference_judged(self, op: str, variant: str, config: dict) -> set[str]:
        """The outputs TF is known to get wrong in this scope: the reference judges them."""
        return {o for e in self.entries if e.judge == "reference"
                and e.in_scope(op, variant, config) for o in e.outputs}

    def classify(self, op: str, variant: str, config: dict, status: str,
                 failed: set[str] = frozenset(), tf_disagreed: set[str] = frozenset(),
                 torch_farther: set[str] = frozenset()) -> str | None:
        """Count scope hits and reproductions; return the first entry that explains ``status``.

        For a ``fail``: ``failed`` are the outputs that failed against their judge (TF, or the
        reference), ``tf_disagreed`` the reference-judged outputs where TF disagreed with a
        torch side the reference accepted. The fail is explained only when entries judged by
        TF cover every failed output and entries judged by the reference every disagreement;
        otherwise no entry is returned (the entries that matched still count as reproduced).
        On ``OWN_VARIANTS``, the failed outputs in ``torch_farther`` are left to no entry.
        """
        if variant in OWN_VARIANTS:
            failed = set(failed) - set(torch_farther)
        found, covered = None, set()
        for e in self.entries:
            # a case exercises an entry when it could have shown it: in scope, and either
            # passed or ended in one of the statuses the entry explains (a case refused for
            # another reason never reached the behaviour)
            if not (status == "pass" or status in e.statuses) or \
                    not e.in_scope(op, variant, config):
                continue
            e.exercised += 1
            if status not in e.statuses:
                continue
            if status != "fail":
                e.reproduced += 1
                found = found or e.id
                continue
            mine = tf_disagreed if e.judge == "reference" else failed
            hit = mine if not e.outputs else mine & set(e.outputs)
            if hit:
                e.reproduced += 1
                covered |= {(e.judge, o) for o in hit}
                found = found or e.id
        if status == "fail":
            needed = {("reference", o) for o in tf_disagreed} | {("tf", o) for o in failed}
            if variant in OWN_VARIANTS and torch_farther:
                return None
            if not needed or not needed <= covered:
                return None
        return found

    def refused(self, op: str, variant: str, config: dict, torch_farther: set[str]) -> list[str]:
        """The TF-judged entries that name a failed output on which parity's port is farther
        from the reference (``OWN_VARIANTS``): entries that would have excused the port."""
        if variant not in OWN_VARIANTS or not torch_farther:
            return []
        return [e.id for e in self.entries if e.judge == "tf" and "fail" in e.statuses
                and e.in_scope(op, variant, config)
                and (not e.outputs or set(e.outputs) & set(torch_farther))]

    def get(self, divergence_id: str) -> Divergence | None:
        return next((e for e in self.entries if e.id == divergence_id), None)


def _read(path: Path) -> list[Divergence]:
    """The entries of one registry file."""
    if not path.exists():
        raise RegistryError(f"no divergence registry at {path}")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError, RecursionError) as e:
        raise RegistryError(f"bad divergence registry {path}: {e}") from None
    except OSError as e:
        raise RegistryError(f"cannot read divergence registry {path}: {e.strerror}") from None
    return [_entry(path, i, e) for i, e in enumerate(_tables(path, data))]


_FIELDS = {f: t for f, t in Divergence.__annotations__.items()
           if f not in ("exercised", "reproduced")}


def _tables(path: Path, data: dict) -> list[dict]:
    entries = data.get("divergence", [])
    unknown = sorted(set(data) - {"divergence"})
    if unknown:
        raise RegistryError(f"bad divergence registry {path}: unknown top-level key(s) "
                            f"{', '.join(unknown)}; entries are [[divergence]] tables")
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise RegistryError(f"bad divergence registry {path}: 'divergence' must be an array of "
                            "tables ([[divergence]])")
    ids = [e.get("id") for e in entries]
    twice = sorted({i for i in ids if isinstance(i, str) and ids.count(i) > 1})
    if twice:
        raise RegistryError(f"bad divergence registry {path}: duplicate id(s) {', '.join(twice)}")
    return entries


def _entry(path: Path, index: int, table: dict) -> Divergence:
    """One ``[[divergence]]`` table as a checked ``Divergence``."""
    from parity.spec import registry

    label = f"divergence {table.get('id', f'#{index + 1}')!s}"
    unknown = sorted(set(table) - set(_FIELDS))
    missing = sorted({"id", "statuses", "mechanism", "magnitude"} - set(table)) + \
        ([] if {"ops", "tags"} & set(table) else ["ops (or tags)"])
    if unknown or missing:
        raise RegistryError(f"{label} in {path}: " + "; ".join(
            filter(None, [unknown and f"unknown field(s) {', '.join(unknown)}",
                          missing and f"missing field(s) {', '.join(missing)}"])))
    for name, value in table.items():
        want = _FIELDS[name]
        if want == "list[str]":
            ok = isinstance(value, list) and all(isinstance(v, str) for v in value)
        else:
            ok = isinstance(value, bool if want == "bool" else str)
        if not ok:
            raise RegistryError(f"{label} in {path}: {name} must be {want}, got {value!r}")
    entry = Divergence(**table)
    bad = set(entry.statuses) - set(EXPLAINABLE)
    if bad or not entry.statuses:
        raise RegistryError(f"{label}: unknown statuses {sorted(bad)}; known: "
                            f"{', '.join(EXPLAINABLE)}")
    known = set(registry.names())
    carried = {t for name in known for t in registry.get(name).tags}
    if set(entry.tags) - carried:
        raise RegistryError(f"{label}: no op carries tag(s) "
                            f"{', '.join(sorted(set(entry.tags) - carried))}; tags: "
                            f"{', '.join(sorted(carried))}")
    if set(entry.ops) - known or not (entry.ops or entry.tags):
        raise RegistryError(f"{label}: unknown op(s) "
                            f"{', '.join(sorted(set(entry.ops) - known)) or '(none named)'}")
    entry.ops = list(entry.ops) + [name for name in sorted(known) if name not in entry.ops
                                   and set(registry.get(name).tags) & set(entry.tags)]
    ops = [registry.get(o) for o in entry.ops]
    variants = {v for op in ops for v in op.variants} | {"audit"}
    if set(entry.variants) - variants:
        raise RegistryError(f"{label}: no op of it has variant(s) "
                            f"{', '.join(sorted(set(entry.variants) - variants))}")
    for op in ops:
        fields = scope_names(op)
        unknown = sorted(entry._predicate.names - fields)
        if unknown:
            raise RegistryError(f"{label}: predicate {entry.when!r} names {', '.join(unknown)}, "
                                f"which {op.name} configs do not have; they have: "
                                f"{', '.join(sorted(fields))}")
    # an entry may name any output of its ops; "dx (dx_sum where ties)" names two
    outputs = {name for op in ops for o in op.outputs
               for name in (o.split()[0], *o.partition("(")[2].split()[:1])}
    if set(entry.outputs) - outputs:
        raise RegistryError(f"{label}: its ops have no output(s) "
                            f"{', '.join(sorted(set(entry.outputs) - outputs))}")
    return entry


def scope_names(op) -> set[str]:
    """The names a predicate may use for ``op``: config fields, derived names, op, variant."""
    import dataclasses

    return ({f.name for f in dataclasses.fields(op.config_type)} |
            set(getattr(op.derived, "fields", ())) | {"op", "variant"})
