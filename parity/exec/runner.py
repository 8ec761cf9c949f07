"""Run one case on both sides, compare, classify. No exception escapes.

Example (needs both frameworks):
    >>> rec = run_case("conv2d_same", "port", {"rank": 2, "batch": 1, "in_channels": 1,
    ...     "out_channels": 1, "spatial": [5, 4], "kernel": [2, 3], "stride": [2, 1],
    ...     "dilation": [1, 1]}, seed=0)                                # doctest: +SKIP
    >>> rec["status"]                                                  # doctest: +SKIP
    'pass'
"""
from __future__ import annotations

import json
import time

from parity.spec import registry
from parity.backends import BackendUnavailable
import numpy as np

from parity.core.tolerance import (judged_by_reference, judged_by_tf, problem_outputs, torch_farther,
                              widen_to_tf32)
from parity.core.config import ConfigError
from parity.backends.device import digests_requested, tf32_bounds
from parity.spec.divergences import Registry, RegistryError
from parity.exec.isolation import SideCrashed
from parity.core.ids import case_id
from parity.exec.calls import call_side as _call, one_line  # noqa: F401 (their home before)
from parity.core.numerics import array_digest

STATUSES = ("pass", "tf32", "fail", "known_divergence", "rejected_tf", "rejected_torch",
            "rejected_both", "error")


class _LastConfig:
    """The TF result and the float64 reference of the last config seen, for the next variant of
    the same config (a plan runs an op's variants one after the other on identical inputs;
    realistic layers cost most in exactly these two). Keyed by the function, config, seed and
    device settings, so nothing else is ever reused; one entry each, so memory stays flat."""

    def __init__(self):
        self._entries: dict[str, tuple] = {}

    def get(self, slot: str, key: tuple, compute):
        entry = self._entries.get(slot)
        if entry is not None and entry[0] == key:
            return entry[1]
        self._entries.pop(slot, None)  # the old arrays go before the new ones are made
        value = compute()
        self._entries[slot] = (key, value)
        return value


_LAST = _LastConfig()


def repro_snippet(op: str, variant: str, config: dict, seed: int, candidate: str | None,
                  options: dict | None = None) -> str:
    extra = f", candidate={candidate!r}" if candidate else ""
    extra += "".join(f", {k}={v!r}" for k, v in (options or {}).items())
    literal = repr(dict(sorted(config.items())))  # Python, not JSON: the snippet must run
    return f"import parity\nrecord = parity.repro({op!r}, {variant!r}, {literal}, seed={seed}{extra})"


def base_record(op_name: str, variant: str, config: dict, seed: int,
                candidate_name: str | None = None, device: str = "cpu",
                options: dict | None = None) -> dict:
    """A case's record before it ran: status ``error`` until judged."""
    return {"id": case_id(op_name, variant, config, seed), "op": op_name, "variant": variant,
            "config": config, "dtype": config.get("dtype"), "device": device, "seed": seed,
            "status": "error", "outputs": {}, "max_abs_diff": None, "max_bound_ratio": None,
            "error": None, "rejections": {}, "divergence": None,
            "repro": repro_snippet(op_name, variant, config, seed, candidate_name, options)}


def divergence_scope(op, config: dict, parsed=None) -> dict:
    """The names a registry predicate sees for a case of the op pair ``op``: config fields and
    derived ones (``parsed``: the config already parsed, so it is not parsed again)."""
    if not op.derived:
        return dict(config)
    return dict(config, **op.derived(op.parse_config(config) if parsed is None else parsed))


def recount(divergences: Registry, records: list[dict]) -> None:
    """Count exercised/reproduced on a fresh registry from finished records (merged runs)."""
    for rec in records:
        if rec["status"] == "error":
            continue
        raw = "fail" if rec["status"] == "known_divergence" else rec["status"]
        try:
            divergences.classify(rec["op"], rec["variant"],
                                 divergence_scope(registry.get(rec["op"]), rec["config"]), raw,
                                 *problem_outputs(rec["outputs"]), torch_farther(rec["outputs"]))
        except (ConfigError, registry.UnknownOp, RegistryError):
            continue


def tf_result(op_name: str, variant: str, config: dict, seed: int):
    """(outputs or None, refusal message, warnings) of the case's TF side alone."""
    op = registry.get(op_name)
    cfg = op.parse_config(config)
    return _call(op.tf_sides[op.variant(variant).tf], cfg, op.make_inputs(cfg, seed))


NONFINITE = ("tf", "ieee", "skip")
"""Semantics for non-finite input (``audit --nonfinite``): ``tf`` TF's contract (its max pool
skips NaN and floors at lowest()); ``ieee`` NaN propagates, and the float64 reference judges
every case whose inputs hold NaN or inf; ``skip`` no NaN/inf fills are drawn."""


def _nonfinite_input(inputs: dict) -> bool:
    return any(isinstance(a, np.ndarray) and a.dtype.kind == "f" and not np.isfinite(a).all()
               for a in inputs.values())


def run_case(op_name: str, variant: str, config: dict, seed: int, *, candidate=None,
             candidate_name: str | None = None, divergences: Registry | None = None,
             device: str | None = None, tf_recorded=None, torch_side=None,
             nonfinite: str = "tf", outputs: tuple[str, ...] | None = None,
             repro_options: dict | None = None) -> dict:
    """Execute one case and return its report record (see ``report/schema.json``).

    ``tf_recorded(op, variant, config, seed)``, when given, supplies the TF side's result
    (a reference archive) instead of running TensorFlow. ``torch_side(cfg, inputs)``, when
    given, runs the torch side instead (an isolated worker) and returns what ``_call`` does.
    Each output is judged by TF, or by the float64 reference where TF refused it or a registry
    entry says TF is wrong on it (and, with ``nonfinite="ieee"``, where the inputs hold NaN/inf).
    ``outputs``, when given, limits the judged outputs (forward-only candidates: ``("y",)``);
    ``repro_options`` are the audit options the repro snippet must pass on.
    """
    from parity.backends.device import requested

    start = time.perf_counter()
    rec = base_record(op_name, variant, config, seed, candidate_name,
                      device or requested()["device"], repro_options)
    try:
        op = registry.get(op_name)
        cfg = op.parse_config(config)
        audit = candidate is not None or variant == "audit"
        if audit:
            tf_side = op.tf_sides[op.audit_tf]
            if not torch_side:
                from parity.exec.candidates import in_process_side
                torch_side = in_process_side(op, candidate)
        else:
            v = op.variant(variant)
            tf_side, torch_fn = op.tf_sides[v.tf], op.torch_sides[v.torch]
            if v.env and not torch_side:  # a side that needs its own process
                from parity.exec.isolation import shared_side
                torch_side = shared_side(op_name, v.torch, v.env)
        inputs = op.make_inputs(cfg, seed)
        key = (json.dumps(config, sort_keys=True), seed, json.dumps(requested(), sort_keys=True))
        scope = divergence_scope(op, config, cfg) if divergences is not None else None
        by_reference = (divergences.reference_judged(op_name, variant, scope)
                        if scope is not None else set())
        ieee = nonfinite == "ieee" and _nonfinite_input(inputs)
        tf_out, tf_err, tf_warn = (tf_recorded(op_name, variant, config, seed) if tf_recorded
                                   else _LAST.get("tf", (tf_side, *key),
                                                  lambda: _call(tf_side, cfg, inputs)))
        torch_out, torch_err, torch_warn = (torch_side(cfg, inputs) if torch_side
                                            else _call(torch_fn, cfg, inputs))
        rec["warnings"] = {k: v for k, v in (("tf", tf_warn), ("torch", torch_warn)) if v}
        _judge(rec, op, cfg, inputs, (tf_out, tf_err), (torch_out, torch_err), audit,
               by_reference, ieee, outputs, key)
    except (ConfigError, registry.UnknownOp, BackendUnavailable, SideCrashed) as e:
        rec["error"] = str(e)
    except RegistryError as e:  # a broken registry entry is reported, not raised
        rec["error"] = str(e)
    except Exception as e:  # harness fault: recorded, the run goes on
        rec["error"] = f"harness: {one_line(e)}"
    if divergences is not None and rec["status"] != "error":
        farther = torch_farther(rec["outputs"]) if rec["status"] == "fail" else set()
        try:
            rec["divergence"] = divergences.classify(op_name, variant, scope, rec["status"],
                                                     *problem_outputs(rec["outputs"]), farther)
            refused = divergences.refused(op_name, variant, scope, farther)
        except RegistryError as e:  # a broken registry entry is reported, not raised
            rec["status"], rec["error"], refused = "error", str(e), []
        if refused:
            rec.setdefault("warnings", {})["registry"] = [
                f"{', '.join(refused)} would explain {', '.join(sorted(farther))}, but the port "
                "is the side farther from the float64 reference: no entry excuses parity.ports"]
        if rec["divergence"] and rec["status"] == "fail":
            rec["status"] = "known_divergence"
    rec["duration_s"] = round(time.perf_counter() - start, 6)
    return rec


def _judge(rec, op, cfg, inputs, tf, torch, audit: bool, by_reference: set, ieee: bool,
           only: tuple[str, ...] | None = None, key: tuple = ()) -> None:
    """Judge every output: by TF where it gave one that no registry entry calls wrong, else by
    the float64 reference (which then also judges a case TF refused whole). ``key``: the
    case's config, seed and settings, under which the reference is reused (``_LAST``)."""
    (tf_out, tf_err), (torch_out, torch_err) = tf, torch
    if tf_err:
        rec["rejections"]["tf"] = tf_err
    if torch_err:
        rec["rejections"]["torch"] = torch_err
    if torch_out is None or (tf_out is None and op.reference is None):
        _reject(rec, tf_out is None, torch_out is None, torch_err, audit)
        return
    if op.judge is not None:
        outputs = op.judge(cfg, inputs, tf_out, torch_out)
    else:
        reference = op.reference_ieee if ieee and op.reference_ieee else op.reference
        ref, bounds = _LAST.get("reference", (reference, *key), lambda: reference(cfg, inputs)) \
            if key else reference(cfg, inputs)
        tf32 = getattr(cfg, "dtype", None) == "float32" and tf32_bounds()
        outputs = {}
        for n in ref:
            if torch_err and n not in torch_out:  # torch refused its gradient: not compared
                continue
            if only and n not in only:
                continue
            tf_n = None if tf_out is None else tf_out.get(n)
            if tf_n is None or ieee or n in by_reference:
                # under IEEE semantics TF's answer is not the contract: no comparison with it
                outputs[n] = judged_by_reference(torch_out.get(n), ref[n], bounds[n],
                                                 getattr(cfg, "dtype", None),
                                                 None if ieee else tf_n)
            else:
                outputs[n] = judged_by_tf(tf_n, torch_out.get(n), ref[n], bounds[n])
            if tf32:
                for m in (outputs[n], outputs[n].get("versus_tf")):
                    if m:
                        widen_to_tf32(m, n in op.tf32_outputs)
        if digests_requested():
            for n, m in outputs.items():
                if isinstance(torch_out.get(n), np.ndarray):
                    m["torch_digest"] = array_digest(torch_out[n])
        unjudged = set(torch_out) - set(outputs)  # e.g. a max pool's dx where ties
        if "dx" in outputs:
            unjudged.discard("dx_sum")  # only a summary of the judged dx
        unjudged = sorted(unjudged)
        if unjudged:
            rec["unjudged"] = unjudged
    rec["outputs"] = outputs
    diffs = [m["max_abs_diff"] for m in outputs.values() if m["max_abs_diff"] is not None]
    ratios = [m["bound_ratio"] for m in outputs.values() if m["bound_ratio"] is not None]
    rec["max_abs_diff"] = max(diffs) if diffs else None
    rec["max_bound_ratio"] = max(ratios) if ratios else None
    if any(problem_outputs(outputs)):
        rec["status"] = "fail"
    elif tf_err or torch_err:
        _reject(rec, bool(tf_err), bool(torch_err), torch_err, audit)
    else:
        rec["status"] = "tf32" if any(m.get("within_tf32") for m in outputs.values()) \
            else "pass"


def _reject(rec, tf_refused: bool, torch_refused: bool, torch_err, audit: bool) -> None:
    if tf_refused and torch_refused:
        rec["status"] = "rejected_both"
    elif tf_refused:
        rec["status"] = "rejected_tf"
    elif audit:  # a candidate that raises on a config TF accepts has failed, with its message
        rec["status"], rec["error"] = "error", f"candidate raised {torch_err}"
    else:
        rec["status"] = "rejected_torch"
