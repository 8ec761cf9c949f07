"""parity: TensorFlow vs PyTorch numerical equivalence, case by case.

``parity.ports`` holds the verified PyTorch implementations of TF semantics;
``python -m parity`` runs the harness. ``run``, ``audit`` and ``compare`` are its Python API
(``parity.api``, imported on first use); ``repro`` re-runs one case of a report.
"""
__version__ = "0.1.0"

_API = ("run", "audit", "compare", "Report", "AuditResult", "Changes")


def __getattr__(name: str):
    if name in _API:
        from parity import api

        return getattr(api, name)
    raise AttributeError(f"module 'parity' has no attribute {name!r}")


def __dir__():
    return sorted(list(globals()) + list(_API))


def repro(op: str, variant: str, config: dict, seed: int, candidate: str | None = None,
          nonfinite: str = "tf", forward_only: bool = False, module: bool = False) -> dict:
    """Re-run one case (as printed in a report's ``repro``) and print its verdict.

    ``candidate`` is ``"package.module:function"`` for an audited implementation (run in this
    process), with the audit's ``nonfinite``, ``forward_only`` and ``module`` options.
    """
    from parity.exec.candidates import in_process_side
    from parity.cli import _describe, load_candidate
    from parity.spec.divergences import Registry
    from parity.spec.registry import get
    from parity.exec.runner import run_case

    side = in_process_side(get(op), load_candidate(candidate), module=module,
                           forward_only=forward_only) if candidate else None
    record = run_case(op, variant, config, seed, candidate_name=candidate,
                      divergences=Registry.load(), torch_side=side, nonfinite=nonfinite,
                      outputs=("y",) if forward_only else None)
    print("\n".join(_describe(record)))
    return record
