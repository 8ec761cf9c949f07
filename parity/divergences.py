"""The known-divergence registry (``cases/divergences.toml``).

Each entry scopes a divergence by op, variant, dtype and a predicate over the
config, names the statuses it explains, and states mechanism, references and
expected magnitude. A case whose raw status is explained becomes
``known_divergence`` (a ``fail``) or keeps its rejection status with the entry's
id; every entry also counts the cases that exercised its scope and those that
reproduced it, so an entry whose scope ran but never reproduced is visible.

Predicates are Python expressions over the config fields plus ``op`` and
``variant``, with ``min``, ``max``, ``any``, ``all``, ``len``, ``sum``, ``zip``,
``abs`` and ``range``, e.g.
``"max(stride) > 1 and max(dilation) > 1"``.

``outputs`` names the outputs a divergence affects (empty: all): a ``fail`` is explained only
when every output that failed is among them. ``judge = "reference"`` marks TensorFlow as the
wrong side for those outputs: in scope the float64 reference judges them (for every variant,
audited candidates included), and the entry explains a case only where TF disagreed with a
torch side that the reference accepted. So no entry can excuse a candidate that is wrong
against the reference.
"""
from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

DEFAULT_PATH = Path(__file__).resolve().parents[1] / "cases" / "divergences.toml"
EXPLAINABLE = ("fail", "rejected_tf", "rejected_torch", "rejected_both")
JUDGES = ("tf", "reference")
_HELPERS = {"min": min, "max": max, "any": any, "all": all, "len": len, "sum": sum, "zip": zip,
            "abs": abs, "range": range}


class RegistryError(ValueError):
    pass


@dataclass
class Divergence:
    id: str
    ops: list[str]
    statuses: list[str]
    mechanism: str
    magnitude: str
    variants: list[str] = field(default_factory=list)   # empty: every variant
    dtypes: list[str] = field(default_factory=list)     # empty: every dtype
    when: str = "True"
    references: list[str] = field(default_factory=list)
    # real, but below the power of the default sample sizes: cases in scope fail only sometimes,
    # so a run that never reproduces it is not flagged
    intermittent: bool = False
    outputs: list[str] = field(default_factory=list)    # empty: every output
    judge: str = "tf"   # "reference": TF is wrong on ``outputs``; the float64 reference judges
    # predicate over ``parity.environment.facts()``: onednn, cpu (flags), device
    environment: str = "True"
    exercised: int = 0
    reproduced: int = 0

    def __post_init__(self):
        try:
            self._predicate = compile(self.when, f"<divergence {self.id}>", "eval")
        except SyntaxError as e:
            raise RegistryError(f"divergence {self.id}: bad predicate {self.when!r}: {e.msg}") \
                from None
        try:
            self._env_predicate = compile(self.environment, f"<divergence {self.id} env>", "eval")
        except SyntaxError as e:
            raise RegistryError(f"divergence {self.id}: bad environment {self.environment!r}: "
                                f"{e.msg}") from None
        if self.judge not in JUDGES:
            raise RegistryError(f"divergence {self.id}: judge must be one of {JUDGES}, "
                                f"got {self.judge!r}")
        if self.judge == "reference" and (not self.outputs or self.statuses != ["fail"]):
            raise RegistryError(f"divergence {self.id}: judge = 'reference' needs the outputs "
                                "TF gets wrong and statuses = ['fail']")

    def in_environment(self) -> bool:
        if self.environment == "True":
            return True
        from parity.environment import facts

        try:
            return bool(eval(self._env_predicate, dict(facts(), __builtins__={})))  # noqa: S307
        except Exception as e:
            raise RegistryError(f"divergence {self.id}: environment {self.environment!r} failed: "
                                f"{type(e).__name__}: {e}") from None

    def in_scope(self, op: str, variant: str, config: dict) -> bool:
        if op not in self.ops or (self.variants and variant not in self.variants):
            return False
        if not self._in_env():
            return False
        if self.dtypes and config.get("dtype") not in self.dtypes:
            return False
        # names as globals: generator expressions in a predicate see them too
        env = dict(_HELPERS, op=op, variant=variant, **config, __builtins__={})
        try:
            return bool(eval(self._predicate, env))  # noqa: S307 - repo-owned file
        except Exception as e:
            raise RegistryError(f"divergence {self.id}: predicate {self.when!r} failed on "
                                f"{op}: {type(e).__name__}: {e}") from None

    def _in_env(self) -> bool:
        if not hasattr(self, "_env_cache"):
            self._env_cache = self.in_environment()
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
        path = Path(path or os.environ.get("PARITY_DIVERGENCES") or DEFAULT_PATH)
        if not path.exists():
            return cls([])
        try:
            data = tomllib.loads(path.read_text())
            entries = [Divergence(**{k: v for k, v in e.items()}) for e in data.get("divergence", [])]
        except RegistryError:
            raise
        except (tomllib.TOMLDecodeError, TypeError) as e:
            raise RegistryError(f"bad divergence registry {path}: {e}") from None
        for e in entries:
            bad = set(e.statuses) - set(EXPLAINABLE)
            if bad:
                raise RegistryError(f"divergence {e.id}: unknown statuses {sorted(bad)}")
        return cls(entries)

    def reference_judged(self, op: str, variant: str, config: dict) -> set[str]:
        """The outputs TF is known to get wrong in this scope: the reference judges them."""
        return {o for e in self.entries if e.judge == "reference"
                and e.in_scope(op, variant, config) for o in e.outputs}

    def classify(self, op: str, variant: str, config: dict, status: str,
                 failed: set[str] = frozenset(), tf_disagreed: set[str] = frozenset()) -> str | None:
        """Count scope hits and reproductions; return the first entry that explains ``status``.

        For a ``fail``: ``failed`` are the outputs that failed against their judge (TF, or the
        reference), ``tf_disagreed`` the reference-judged outputs where TF disagreed with a
        torch side the reference accepted. The fail is explained only when entries judged by
        TF cover every failed output and entries judged by the reference every disagreement;
        otherwise no entry is returned (the entries that matched still count as reproduced).
        """
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
            if not needed or not needed <= covered:
                return None
        return found

    def get(self, divergence_id: str) -> Divergence | None:
        return next((e for e in self.entries if e.id == divergence_id), None)
