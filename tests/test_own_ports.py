"""No registry entry excuses parity's own port: an entry judged by TF cannot explain a ``port``
case on which the port is the side farther from the float64 reference."""
import pytest
import torch

import parity
from parity.spec.divergences import Registry
from parity.exec.runner import run_case
from parity.core.tolerance import torch_farther

FAIL_ENTRY = """[[divergence]]
id = "eps-meaning"
ops = ["l2_normalize"]
variants = ["port", "native", "audit"]
statuses = ["fail"]
outputs = ["y", "dx"]
when = "fill == 'tiny'"
mechanism = "m"
magnitude = "all"
"""


def test_an_entry_judged_by_tf_explains_a_native_side_but_not_the_port(tmp_path):
    path = tmp_path / "d.toml"
    path.write_text(FAIL_ENTRY)
    r = Registry.load(path)
    scope = {"fill": "tiny", "dtype": "float32"}
    assert r.classify("l2_normalize", "native", scope, "fail", {"y"}, set(), {"y"}) == "eps-meaning"
    assert r.classify("l2_normalize", "port", scope, "fail", {"y"}, set(), {"y"}) is None
    assert r.classify("l2_normalize", "port", scope, "fail", {"y"}, set(), set()) == "eps-meaning"
    assert r.refused("l2_normalize", "port", scope, {"y"}) == ["eps-meaning"]
    assert r.refused("l2_normalize", "native", scope, {"y"}) == []


def torch_eps(x, dim, eps):
    """A port with torch's meaning of eps (it bounds the norm, not its square): wrong on tiny
    vectors, where TF is right."""
    return torch.nn.functional.normalize(x, 2.0, dim, eps)


def test_a_wrong_port_stays_a_fail_and_names_the_entry_it_was_refused(tmp_path, monkeypatch):
    """A registry entry that would excuse the wrong port: the port case is a fail with the
    refusal among its warnings; the same implementation audited is excused by the entry."""
    path = tmp_path / "d.toml"
    path.write_text(FAIL_ENTRY)
    r = Registry.load(path)
    import parity.ports.norm as ports
    monkeypatch.setattr(ports, "l2_normalize", torch_eps)
    case = {"shape": [2, 4], "axis": [1], "epsilon": 1e-12, "fill": "tiny", "dtype": "float32"}
    rec = run_case("l2_normalize", "port", case, 3, divergences=r)
    assert rec["status"] == "fail" and torch_farther(rec["outputs"]) == {"y", "dx"}
    assert "eps-meaning would explain dx, y" in rec["warnings"]["registry"][0]
    audited = run_case("l2_normalize", "audit", case, 3, candidate=torch_eps, divergences=r)
    assert audited["status"] == "known_divergence"
    monkeypatch.undo()
    assert run_case("l2_normalize", "port", case, 3, divergences=r)["status"] == "pass"


def test_the_default_sweep_has_no_known_divergence_where_a_port_is_farther(tmp_path):
    """Every ``port`` case of the default profile: none unexpected, and no case counted as a known
    divergence has a failed output on which the port is farther from the reference."""
    report = parity.run(variants="port", profile="default", out=tmp_path)
    assert report.unexpected == [], [(c["op"], c["id"]) for c in report.unexpected]
    known = [c for c in report.cases if c["status"] == "known_divergence"]
    assert known   # TF's own divergences: the sweep reached them
    assert [(c["op"], c["id"]) for c in known if torch_farther(c["outputs"])] == []
