"""Calling one side of an op pair: its outputs, or the refusal as one line, and the warnings
it raised. No exception escapes but ``BackendUnavailable`` (a framework that is missing is the
run's to report, not the case's)."""
from __future__ import annotations

import re
import warnings

from parity.backends import BackendUnavailable
from parity.spec.registry import GRADIENT_REFUSED

_TF_NOISE = re.compile(r"\{\{function_node [^}]*\}\}\s*|\s*\[Op:[^\]]*\].*$|\x1b\[[0-9;]*m")


def one_line(e: BaseException) -> str:
    """``Type: message`` on one line, TF's node decorations and Keras' argument dump removed."""
    text = str(e).split("Arguments received by")[0]
    lines = [_TF_NOISE.sub("", line).strip() for line in text.strip().splitlines()]
    return f"{type(e).__name__}: {' '.join(line for line in lines if line)}"[:400]


def call_side(side, config, inputs):
    """(outputs, refusal message, warnings); a refusal of the gradients alone keeps ``y``."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            out = side(config, inputs)
        except BackendUnavailable:
            raise
        except Exception as e:  # a framework refusing the config is a finding, not a crash
            return None, one_line(e), _messages(caught)
    refused = out.pop(GRADIENT_REFUSED, None)
    return out, (f"gradients: {one_line(refused)}" if refused else None), _messages(caught)


def _messages(caught) -> list[str]:
    return sorted({f"{w.category.__name__}: {str(w.message).splitlines()[0][:300]}"
                   for w in caught})
