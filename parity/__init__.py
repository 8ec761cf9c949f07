"""parity: TensorFlow vs PyTorch numerical equivalence, case by case.

``parity.ports`` holds the verified PyTorch implementations of TF semantics;
``python -m parity`` runs the harness. ``repro`` re-runs one case of a report.
"""
__version__ = "0.1.0"


def repro(op: str, variant: str, config: dict, seed: int, candidate: str | None = None) -> dict:
    """Re-run one case (as printed in a report's ``repro``) and print its verdict.

    ``candidate`` is ``"package.module:function"`` for an audited implementation.
    """
    from parity.cli import _describe, load_candidate
    from parity.divergences import Registry
    from parity.runner import run_case

    fn = load_candidate(candidate) if candidate else None
    record = run_case(op, variant, config, seed, candidate=fn, candidate_name=candidate,
                      divergences=Registry.load())
    print("\n".join(_describe(record)))
    return record
