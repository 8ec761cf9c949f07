"""parity: TensorFlow vs PyTorch numerical equivalence, case by case.

``parity.ports`` holds the verified PyTorch implementations of TF semantics;
``python -m parity`` runs the harness. ``run``, ``audit`` and ``compare`` are its Python API
(``parity.api``, imported on first use); ``repro`` re-runs one case of a report.
"""
__version__ = "0.1.0"

_API = ("run", "audit", "compare", "repro", "Report", "AuditResult", "Changes")


def __getattr__(name: str):
    if name in _API:
        from parity import api

        return getattr(api, name)
    raise AttributeError(f"module 'parity' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_API))
