"""Op pairs by name: what each compares, its sides and variants.

An op module builds one ``OpPair`` per op and calls ``register``; importing
``parity.ops`` registers them all. No framework is imported here: sides are
plain functions that import their framework through ``parity.backends`` when
they run.

Example:
    >>> import parity.ops
    >>> "conv2d_same" in names()
    True
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

Outputs = dict[str, np.ndarray]
SideFn = Callable[[object, dict], Outputs]


GRADIENT_REFUSED = "_gradient_refused"


def gradient_refused(outputs: Outputs, error: BaseException) -> Outputs:
    """Mark a side's outputs: the forward ran, the framework refused the gradients."""
    outputs[GRADIENT_REFUSED] = error
    return outputs


class UnknownOp(KeyError):
    def __str__(self):
        return self.args[0]


@dataclass(frozen=True, eq=False)
class Variant:
    """One pairing of a TF side with a torch side."""
    name: str
    tf: str
    torch: str
    description: str
    # environment of a torch side that runs in a worker process (e.g. KERAS_BACKEND=torch)
    env: dict | None = None


@dataclass(frozen=True)
class OpPair:
    name: str
    family: str
    description: str
    config_type: type
    strategy: Callable[..., object]          # strategy(dtypes) -> SearchStrategy[config]
    make_inputs: Callable[[object, int], dict]
    reference: Callable[[object, dict], tuple[Outputs, Outputs]] | None  # (float64, bounds)
    tf_sides: dict[str, SideFn]
    torch_sides: dict[str, SideFn]
    variants: dict[str, Variant]
    candidate_side: Callable[[Callable], SideFn]
    candidate_doc: str
    outputs: tuple[str, ...] = ("y", "dx", "dw", "db")
    check: Callable[[object], None] | None = None   # op-specific config rules
    derived: Callable[[object], dict] | None = None  # extra names for registry predicates
    # compares whole distributions instead of elements: judge(config, inputs, tf, torch) ->
    # {output: metrics} (``parity.core.stats``); ops with a judge have no elementwise reference
    judge: Callable[[object, dict, dict, dict], dict] | None = None
    # share of a profile's examples this op draws (slow ops draw fewer configs)
    examples_share: float = 1.0
    # the reference with IEEE semantics for non-finite input, where TF's differ (max pool);
    # ``audit --nonfinite ieee`` judges with it
    reference_ieee: Callable[[object, dict], tuple[Outputs, Outputs]] | None = None
    # config field and values that put NaN/inf in the inputs (``audit --nonfinite skip``)
    nonfinite_fills: tuple[str, tuple[str, ...]] | None = None
    # what the op is built from, for registry entries scoped by tags (``same-conv``, ...)
    tags: tuple[str, ...] = ()
    # the TF side an audited candidate is judged against (every op names it)
    audit_tf: str = ""
    # outputs computed by convolution or matmul kernels, which CUDA may run in TF32 (their
    # float32 bound widens to TF32's under ``--tf32`` on/default; every other output keeps it)
    tf32_outputs: tuple[str, ...] = ()
    # realistic(dtypes) -> SearchStrategy[config]: the op's configs shaped like layers of real
    # networks (``parity.spec.realistic``, the ``realistic`` profile); None: the op has none
    realistic: Callable[..., object] | None = None

    def examples(self, profile_examples: int) -> int:
        """Configs to draw for a profile's example count (at least one)."""
        return max(1, round(profile_examples * self.examples_share))

    def parse_config(self, data: dict):
        """A validated config of this op from JSON data (``ConfigError`` if not)."""
        config = self.config_type.from_dict(data)
        if self.check is not None:
            self.check(config)
        return config

    def variant(self, name: str) -> Variant:
        if name not in self.variants:
            raise UnknownOp(f"op {self.name} has no variant {name!r}; "
                            f"known: {', '.join(self.variants)}")
        return self.variants[name]


_OPS: dict[str, OpPair] = {}


class RegistrationError(ValueError):
    """An op pair whose declaration does not hold together (a programming error)."""


def _check_variant(op: "OpPair", key: str, v: Variant, torch_sides: dict | None = None) -> None:
    torch_sides = op.torch_sides if torch_sides is None else torch_sides
    if key != v.name:
        raise RegistrationError(f"{op.name}: variant key {key!r} names a Variant {v.name!r}")
    if v.tf not in op.tf_sides:
        raise RegistrationError(f"{op.name}/{v.name}: no TF side {v.tf!r} (has: "
                                f"{', '.join(op.tf_sides)})")
    if v.torch not in torch_sides:
        raise RegistrationError(f"{op.name}/{v.name}: no torch side {v.torch!r} (has: "
                                f"{', '.join(torch_sides)})")


def register(op: OpPair) -> OpPair:
    """Add ``op``, checked: a new name, a ``port`` variant (every op verifies its port), the TF
    side that judges audits (``audit_tf``), and every variant keyed by its own name with sides
    that exist."""
    if op.name in _OPS:
        raise RegistrationError(f"op {op.name!r} is registered twice")
    if "port" not in op.variants:
        raise RegistrationError(f"{op.name}: no 'port' variant (every op verifies its port)")
    if op.audit_tf not in op.tf_sides:
        raise RegistrationError(f"{op.name}: audit_tf {op.audit_tf!r} is not a TF side (has: "
                                f"{', '.join(op.tf_sides)}); name the side audits are judged "
                                f"against")
    if set(op.tf32_outputs) - set(op.outputs):
        raise RegistrationError(f"{op.name}: tf32_outputs "
                                f"{', '.join(sorted(set(op.tf32_outputs) - set(op.outputs)))} "
                                f"are not outputs ({', '.join(op.outputs)})")
    for key, v in op.variants.items():
        _check_variant(op, key, v)
    _OPS[op.name] = op
    return op


def add_variant(op_name: str, variant: Variant, torch_side: SideFn) -> Variant:
    """A variant added to a registered op by another module (Keras-on-torch, third-party
    libraries): its torch side under the variant's name, checked like ``register``'s."""
    op = get(op_name)
    if variant.name in op.variants or variant.name in op.torch_sides:
        raise RegistrationError(f"{op_name}: variant {variant.name!r} is added twice")
    if variant.torch != variant.name:
        raise RegistrationError(f"{op_name}/{variant.name}: an added variant's torch side is "
                                f"its own ({variant.name!r}), not {variant.torch!r}")
    _check_variant(op, variant.name, variant, {**op.torch_sides, variant.name: torch_side})
    op.torch_sides[variant.name] = torch_side
    op.variants[variant.name] = variant
    return variant


def names() -> list[str]:
    _load()
    return sorted(_OPS)


def get(name: str) -> OpPair:
    """The op pair called ``name``; ``UnknownOp`` lists the known ones."""
    _load()
    if name not in _OPS:
        raise UnknownOp(f"unknown op {name!r}; known ops: {', '.join(sorted(_OPS))}")
    return _OPS[name]


OP_FAMILIES = "parity.ops"
"""The package whose modules register the op families (each imports this module and calls
``register``): found at run time, as plugins are, so the registry never imports them."""


def _load() -> None:
    import importlib

    importlib.import_module(OP_FAMILIES)
