"""Draw cases with Hypothesis: configs valid by construction, one input seed each.

Example:
    >>> plan = draw_configs("conv1d_same", examples=3, seed=0, dtypes=("float32",))
    >>> len(plan) == 3 and all(c.dtype == "float32" for c, _ in plan)
    True
"""
from __future__ import annotations

import contextlib
import itertools

from hypothesis import given, seed as hypothesis_seed, strategies as st

from parity.spec import registry
from parity.core.profiles import hypothesis_settings

SEEDS = st.integers(0, 2**32 - 1)


SHAPES = ("small", "realistic")


class NoRealisticShapes(registry.UnknownOp):
    """An op asked for realistic shapes that has none; one line."""


def realistic_ops() -> list[str]:
    """The ops that draw layer shapes of real networks (``OpPair.realistic``)."""
    return [n for n in registry.names() if registry.get(n).realistic is not None]


def case_strategy(op_name: str, dtypes, shapes: str = "small"):
    """(config, input seed) pairs for one op: its small configs, or with ``shapes="realistic"``
    those shaped like layers of real networks."""
    op = registry.get(op_name)
    if shapes == "realistic":
        if op.realistic is None:
            raise NoRealisticShapes(f"{op_name} has no realistic shapes; ops that have: "
                                    f"{', '.join(realistic_ops())}")
        return st.tuples(op.realistic(dtypes), SEEDS)
    return st.tuples(op.strategy(dtypes), SEEDS)


@contextlib.contextmanager
def _without_local_constants():
    """Hypothesis (6.131 on) mixes literals found in the project's loaded modules into its
    draws, so a plan would depend on which modules happen to be imported (a run in a fresh
    process, a pytest session and a process that already ran cases drew different seeds).
    Plans must not: while drawing one, that pool is empty. (Hypothesis internals: if they
    move, ``tests/test_strategies.py`` fails.)"""
    try:
        from hypothesis.internal.conjecture import providers
        original, empty = providers._get_local_constants, providers.Constants()
    except (ImportError, AttributeError):  # pragma: no cover - older or newer Hypothesis
        yield
        return
    providers._get_local_constants = lambda: empty
    providers.CONSTANTS_CACHE.cache.clear()
    try:
        yield
    finally:
        providers._get_local_constants = original
        providers.CONSTANTS_CACHE.cache.clear()


def draw_configs(op_name: str, examples: int, seed: int, dtypes,
                 exclude=None, shapes: str = "small") -> list[tuple[object, int]]:
    """Up to ``examples`` distinct (config, input seed) pairs (a duplicate drawn is dropped),
    deterministic for a given ``seed`` whatever else the process has imported. ``exclude``:
    a filter on the pairs (``audit --nonfinite skip``); ``shapes``: see ``case_strategy``."""
    drawn: dict[str, tuple] = {}
    strategy = case_strategy(op_name, dtypes, shapes)
    if exclude is not None:
        strategy = strategy.filter(exclude)

    @hypothesis_settings(examples)
    @hypothesis_seed(seed)
    @given(strategy)
    def collect(pair):
        config, s = pair
        drawn.setdefault(f"{config.config_id()}:{s}", (config, s))

    with _without_local_constants():
        collect()
    return list(drawn.values())


def plan_cases(ops, variants, examples: int, seed: int, dtypes,
               per_op_share: bool = True, shapes: str = "small") -> list[tuple[str, str, dict, int]]:
    """(op, variant, config dict, input seed) for every op, every config and every variant.

    With ``per_op_share``, ``examples`` is scaled by each op's ``examples_share`` (the init ops
    draw a quarter).

    All variants of an op share its configs and seeds, so they see identical inputs, one after
    the other. Small shapes come op by op; realistic ones interleave the ops config by config
    (each op's first config, then each op's second...), so a run stopped by its time budget
    has covered every op.
    """
    per_op = []
    for op_name in ops:
        op = registry.get(op_name)
        chosen = [v for v in op.variants if not variants or v in variants]
        n = op.examples(examples) if per_op_share else examples
        per_op.append([[(op_name, v, config.to_dict(), s) for v in chosen]
                       for config, s in draw_configs(op_name, n, seed, dtypes, shapes=shapes)])
    if shapes == "realistic":
        per_op = [list(itertools.chain.from_iterable(itertools.zip_longest(*per_op,
                                                                           fillvalue=[])))]
    return [case for configs in per_op for cases in configs for case in cases]
