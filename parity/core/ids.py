"""Stable case ids: the same op, variant, config and seed give the same id on every machine and
in every version (reports are matched by them)."""
from __future__ import annotations

import json

from parity.core.numerics import stable_hash


def case_id(op: str, variant: str, config: dict, seed: int) -> str:
    """Stable id of op + variant + config + seed."""
    return stable_hash(json.dumps({"op": op, "variant": variant, "config": config, "seed": seed},
                                  sort_keys=True))
