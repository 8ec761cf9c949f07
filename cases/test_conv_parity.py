"""Parity suites for the SAME conv ops: Hypothesis cases per op and variant, and pinned cases.

The number of cases per op and variant follows the Hypothesis profile
(``HYPOTHESIS_PROFILE=ci|dev|default|nightly|explore``).
"""
import json
from pathlib import Path

import pytest
from hypothesis import given

from parity import registry
from parity.compare import describe_failure, output_failed
from parity.divergences import Registry
from parity.report.build import unexpected
from parity.runner import run_case
from parity.sweep import case_strategy

DIVERGENCES = Registry.load()
PINNED = json.loads((Path(__file__).parent / "pinned_conv.json").read_text())
OP_VARIANTS = [(op, v) for op in registry.names() if registry.get(op).family == "conv"
               for v in registry.get(op).variants]


def explain(rec) -> str:
    lines = [f"{rec['op']}/{rec['variant']} {rec['status']}: {rec['config']} seed={rec['seed']}",
             *(f"{side} refused: {msg}" for side, msg in rec["rejections"].items())]
    lines += [describe_failure(rec["op"], rec["id"], n, m) for n, m in rec["outputs"].items()
              if output_failed(m)]
    return "\n".join(lines + [rec["error"] or ""])


@pytest.mark.parametrize("op, variant", OP_VARIANTS)
def test_every_case_is_as_expected(op, variant):
    @given(case_strategy(op, ("float32", "float64", "float16", "bfloat16")))
    def check(pair):
        config, seed = pair
        rec = run_case(op, variant, config.to_dict(), seed, divergences=DIVERGENCES)
        assert not unexpected(rec), explain(rec)
    check()


@pytest.mark.parametrize("case", PINNED, ids=[f"{c['op']}-{c['variant']}-{c['seed']}" for c in PINNED])
def test_pinned(case):
    rec = run_case(case["op"], case["variant"], case["config"], case["seed"],
                   divergences=DIVERGENCES)
    assert (rec["status"], rec["divergence"]) == (case["status"], case["divergence"]), \
        f"{case['why']}\n{explain(rec)}"
