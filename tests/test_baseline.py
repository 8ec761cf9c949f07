"""The committed baseline (reports/baselines/default.json) is current: `make baseline` renews it."""
import re
from pathlib import Path

import pytest

from parity.spec.divergences import Registry
from parity.report import load_report
from parity.exec.runner import run_case

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "reports" / "baselines" / "default.json"


@pytest.fixture(scope="module")
def baseline():
    return load_report(BASELINE)


def test_baseline_was_made_with_the_pinned_frameworks(baseline):
    pins = dict(re.findall(r"^([\w-]+)==(\S+)$", (ROOT / "requirements.in").read_text(), re.M))
    packages = baseline["environment"]["packages"]
    for name in ("torch", "tensorflow-cpu", "keras", "numpy"):
        assert packages[name].split("+")[0] == pins[name].split("+")[0], \
            f"{name}: run make baseline"
    assert baseline["complete"] and baseline["run"]["command"] == "run"


def environment_explains(case: dict, here: dict, recorded: dict, registry: Registry) -> str | None:
    """Why the baseline's status of ``case`` may differ from ``here`` (this machine's record of
    it): None when this machine's facts predict it, else what is wrong. Predicted means: the
    registry judged ``here`` with this machine's facts and found nothing unexpected, and some
    entry scoped by the environment covers the case and applies differently to the facts the
    baseline recorded and to these (or is intermittent: it shows only sometimes)."""
    from parity.backends.environment import facts
    from parity.report.build import unexpected

    if unexpected(here):
        return f"{here['status']} here is unexpected (divergence {here['divergence']})"
    dtype = case["config"].get("dtype")
    now = facts()
    for e in registry.entries:
        if e.environment == "True" or not e.in_config_scope(case["op"], case["variant"],
                                                             case["config"]):
            continue
        before, after = e.in_environment(recorded, dtype), e.in_environment(now, dtype)
        if before != after or (e.intermittent and after):
            return None
    return "no entry scoped by the environment covers this case where the two machines differ"


def test_a_sample_of_the_baseline_replays_to_the_statuses_this_machine_predicts(baseline):
    """Statuses and divergence ids of every 25th case, re-run now: the baseline's, or where this
    machine's CPU kernels differ from the recording machine's (oneDNN on or off, its ISA, the
    dtypes it takes), what the registry's environment-scoped entries predict for these facts.
    Metrics may move in the last bits on another CPU; statuses only as the registry says."""
    registry = Registry.load()
    recorded = baseline["environment"]["facts"]
    sample = baseline["cases"][::25]
    assert len(sample) >= 30
    for case in sample:
        rec = run_case(case["op"], case["variant"], case["config"], case["seed"],
                       divergences=registry)
        assert rec["id"] == case["id"]
        if (rec["status"], rec["divergence"]) == (case["status"], case["divergence"]):
            continue
        why = environment_explains(case, rec, recorded, registry)
        assert why is None, (f"{case['op']}/{case['variant']} {case['id']}: {case['status']} "
                             f"({case['divergence']}) in the baseline, {rec['status']} "
                             f"({rec['divergence']}) here: {why}; run make baseline if intended")


def test_a_status_change_the_environment_does_not_explain_is_caught(baseline):
    """The check above can fail: a case whose status moved without an environment-scoped entry
    behind it (a pass that became a refusal here, on the same facts) is refused."""
    registry = Registry.load()
    case = next(c for c in baseline["cases"] if c["status"] == "pass")
    moved = dict(case, status="rejected_tf", divergence=None)  # unexplained: unexpected here
    assert environment_explains(case, moved, baseline["environment"]["facts"], registry)
    explained = next(c for c in baseline["cases"] if c["divergence"] ==
                     "torch-same-padding-refuses-stride")  # explained, but by no scoped entry
    assert "no entry scoped" in environment_explains(dict(explained, status="pass"), explained,
                                                     baseline["environment"]["facts"], registry)


def test_a_status_change_that_a_scoped_entry_predicts_is_accepted(baseline):
    """A correct difference between machines passes: the same dilated float16 conv3d case is
    refused by TF's own kernels and computed by oneDNN elsewhere; with the baseline's facts
    replaced by a machine whose oneDNN is off, tf-cpu-conv3d-dilation's scope changes."""
    registry = Registry.load()
    entry = next(e for e in registry.entries if e.id == "tf-cpu-conv3d-dilation")
    case = next((c for c in baseline["cases"] if entry.in_config_scope(c["op"], c["variant"],
                                                                       c["config"])
                 and c["config"]["dtype"] == "float32"), None)
    assert case is not None
    from parity.backends.environment import facts

    here = facts()
    other = dict(here, onednn=not here["onednn"],
                 onednn_dtypes=[] if here["onednn"] else ["float32", "bfloat16"])
    refused = {"status": "rejected_both", "divergence": entry.id, "outputs": {}}
    assert environment_explains(case, dict(case, **refused), other, registry) is None
