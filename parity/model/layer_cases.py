"""A model report's layers as cases, so that ``parity compare`` (and ``make upgrade-check``)
compares two model comparisons the way it compares two sweeps: a layer that agreed in the
baseline and diverges now is a regression that names the layer.

One case per compared layer and dtype: id ``<layer>:<dtype>`` (two comparisons of one Keras
model match by layer, whatever torch side each had), op ``model:<model>``, variant the layer's
name; outputs ``isolated`` and ``propagated`` (their max_abs_diff and bound_ratio); status
``fail`` where either diverges (the comparison's own rule: a shape mismatch or an element beyond
its bound), else ``pass``.
"""
from __future__ import annotations

from parity.model.core import _diverges


def model_name(model: dict) -> str:
    """The zoo pair's name, or the Keras file's."""
    zoo = model.get("zoo") or {}
    return zoo.get("name") or str(model.get("keras_model") or "model")


def layer_cases(report: dict) -> list[dict]:
    """The cases of a model report (``report["model"]``), in the order of its layers."""
    model = report["model"]
    name = model_name(model)
    cases = []
    for row in model.get("layers", []):
        for dtype in model.get("dtypes", ()):
            iso, prop = row["isolated"].get(dtype), row["propagated"].get(dtype)
            if iso is None and prop is None:
                continue
            outputs = {k: {"max_abs_diff": m.get("max_abs_diff"),
                           "bound_ratio": m.get("bound_ratio")}
                       for k, m in (("isolated", iso), ("propagated", prop)) if m is not None}
            cases.append({"id": f"{row['layer']}:{dtype}", "op": f"model:{name}",
                          "variant": row["layer"], "dtype": dtype,
                          "status": "fail" if _diverges(iso) or _diverges(prop) else "pass",
                          "divergence": None, "error": None, "outputs": outputs,
                          "max_abs_diff": max((m["max_abs_diff"] for m in outputs.values()
                                               if m["max_abs_diff"] is not None), default=None)})
    return cases


def as_sweep(report: dict) -> dict:
    """The report with its layers as ``cases`` (a report that is not a model's, as it is)."""
    if not report.get("model"):
        return report
    return dict(report, cases=layer_cases(report))
