"""A registry file is data: predicates cannot run code, and a broken file is refused at load
(exit 2, one line) instead of turning cases into errors."""
import json
import os

import pytest

from parity.spec.divergences import Registry, RegistryError
from parity.core.predicate import Predicate, PredicateError
from test_divergences import ENTRY  # one valid entry, shared

ESCAPES = [
    "().__class__.__base__.__subclasses__()",
    "[c for c in ().__class__.__base__.__subclasses__() if c.__name__ == 'Popen'][0]('id')",
    "__import__('os').system('touch /tmp/parity-pwned')",
    "(lambda: 1)()",
    "getattr(stride, 'append')",
    "eval('1')",
    "__builtins__",
    "stride.__class__",
    "stride['__class__']",
    "{k: 1 for k in stride}",
    "[k for k in stride]",
    "any(any(j for j in range(10)) for k in stride)",
    "max(stride, key=len)",
    "max(*stride)",
    "10 ** 10 ** 10",
    "_p_add(1, 2)",
    "b'bytes' == b'bytes'",
]


@pytest.mark.parametrize("text", ESCAPES)
def test_predicates_outside_the_language_are_refused_before_they_run(text, tmp_path):
    with pytest.raises(PredicateError):
        Predicate(text, names={"stride", "dtype"})
    path = tmp_path / "d.toml"
    path.write_text(ENTRY.replace('"max(stride) > 1"', json.dumps(text)))
    with pytest.raises(RegistryError):
        Registry.load(path)
    assert not os.path.exists("/tmp/parity-pwned")


@pytest.mark.parametrize("text, error", [
    ("range(10**6)", None), ("sum(range(0, 10000000))", OverflowError),
    ("'a' * 1000000000000", TypeError), ("stride * 100000000000", TypeError),
    ("99999999999999999999 * 99999999999999999999 * 99999999999999999999 * 99999999999999999999"
     " * 99999999999999999999 * 99999999999999999999 * 99999999999999999999 > 0", OverflowError),
])
def test_predicates_cannot_run_for_long_or_allocate_much(text, error):
    if error is None:  # '**' does not even parse into the language
        with pytest.raises(PredicateError):
            Predicate(text, names={"stride"})
        return
    with pytest.raises(error):
        Predicate(text, names={"stride"})({"stride": [1, 2]})


def test_the_language_covers_every_shipped_predicate_and_means_what_python_means():
    p = Predicate("any((-(-n // s) - 1) * s + k - n > 0 for n, k, s in zip(spatial, window, stride))"
                  " or (startswith(op, 'avg') and any(k > 1 for k in window))",
                  names={"spatial", "window", "stride", "op"})
    assert p({"spatial": [5], "window": [2], "stride": [2], "op": "max_pool1d_same"}) is True
    assert p({"spatial": [4], "window": [2], "stride": [2], "op": "max_pool1d_same"}) is False
    assert p({"spatial": [4], "window": [2], "stride": [2], "op": "avg_pool1d_same"}) is True
    assert Predicate("x if y else z - 2", names={"x", "y", "z"})({"x": 0, "y": 0, "z": 3}) is True
    assert Predicate("stride[0] != stride[-1] and dtype in ('float16',)",
                     names={"stride", "dtype"})({"stride": [1, 2], "dtype": "float16"}) is True
    # a config key that is not a name of the predicate is never seen, whatever it is called
    assert Predicate("dtype == 'x'", names={"dtype"})({"dtype": "x", "__builtins__": 1}) is True


@pytest.mark.parametrize("text, message", [
    ("divergence = 'not a table'\n", "must be an array of tables"),
    ("divergence = [1, 2]\n", "must be an array of tables"),
    ("[divergence]\nid = 'x'\n", "must be an array of tables"),
    ("[[entry]]\nid = 'x'\n", "unknown top-level key"),
    (ENTRY + "\n" + ENTRY, "duplicate id(s) x"),
    (ENTRY.replace('["conv2d_same"]', '["conv2d_same", "conv9d"]'), "unknown op(s) conv9d"),
    (ENTRY.replace('["conv2d_same"]', "[]"), "unknown op(s) (none named)"),
    (ENTRY.replace('["native"]', '["nativ"]'), "no op of it has variant(s) nativ"),
    (ENTRY.replace("max(stride) > 1", "max(strides) > 1"), "names strides"),
    (ENTRY.replace('["conv2d_same"]', '["conv2d_same", "max_pool2d_same"]')
     .replace("max(stride) > 1", "max(kernel) > 1"), "max_pool2d_same configs do not have"),
    (ENTRY.replace('statuses = ["rejected_torch"]', 'statuses = "fail"'), "statuses must be"),
    (ENTRY + 'magnitud = "x"\n', "unknown field(s) magnitud"),
    (ENTRY + 'outputs = ["dz"]\n', "no output(s) dz"),
    (ENTRY + "environment = \"onednn and gpu_model == 'x'\"\n", "names unknown field(s) gpu_model"),
    ("\xff\xfe".encode("latin-1").decode("latin-1") + ENTRY, "bad divergence registry"),
])
def test_a_broken_registry_is_one_line_at_load(tmp_path, text, message):
    path = tmp_path / "d.toml"
    path.write_bytes(text.encode("utf-16") if text.startswith("\xff") else text.encode())
    with pytest.raises(RegistryError) as e:
        Registry.load(path)
    assert message in str(e.value) and "\n" not in str(e.value)


def test_a_registry_named_but_missing_is_an_error(tmp_path):
    with pytest.raises(RegistryError, match="no divergence registry at"):
        Registry.load(tmp_path / "nope.toml")


def test_a_broken_registry_is_exit_2_before_any_case_runs(tmp_path, monkeypatch, capsys):
    from parity.cli import main

    path = tmp_path / "d.toml"
    path.write_text(ENTRY.replace("max(stride) > 1", "max(strides) > 1"))
    monkeypatch.setenv("PARITY_DIVERGENCES", str(path))
    out = tmp_path / "reports"
    assert main(["run", "--ops", "conv2d_same", "--examples", "1", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "names strides" in err
    assert not out.exists()


def test_every_op_declares_the_names_its_derived_function_gives():
    """Predicates are checked against ``derived.fields`` at load: they must be the keys."""
    from parity.spec import registry
    from parity.spec.sweep import draw_configs

    for name in registry.names():
        op = registry.get(name)
        if op.derived is not None:
            config, _ = draw_configs(name, 1, 0, ("float32",))[0]
            assert set(op.derived(config)) == set(op.derived.fields), name


def test_an_entry_scoped_by_a_tag_covers_exactly_the_ops_that_carry_it(tmp_path):
    from parity.spec import registry

    path = tmp_path / "d.toml"
    path.write_text(ENTRY.replace('ops = ["conv2d_same"]', 'tags = ["same-conv"]'))
    (entry,) = Registry.load(path).entries
    carriers = sorted(n for n in registry.names() if "same-conv" in registry.get(n).tags)
    assert sorted(entry.ops) == carriers
    assert {"conv1d_same", "conv2d_same", "conv3d_same", "depthwise_conv2d_same"} <= set(carriers)
    assert entry.in_scope("conv3d_same", "native", {"stride": [2, 1, 1]})
    assert not entry.in_scope("conv_transpose2d", "native", {"stride": [2, 1]})
    for text, message in ((ENTRY.replace('ops = ["conv2d_same"]', 'tags = ["sme-conv"]'),
                           "no op carries tag(s) sme-conv"),
                          (ENTRY.replace('ops = ["conv2d_same"]\n', ""), "missing field(s) ops")):
        path.write_text(text)
        with pytest.raises(RegistryError, match=message.replace("(", r"\(").replace(")", r"\)")):
            Registry.load(path)


def test_a_user_registry_adds_to_the_shipped_one_and_never_replaces_an_entry(
        tmp_path, monkeypatch, capsys):
    """--divergences / PARITY_DIVERGENCES: the shipped entries stay, the user's are added; a
    user entry with a shipped id is refused (exit 2, one line) instead of replacing it."""
    from parity.cli import main
    from parity.spec.divergences import DEFAULT_PATH

    shipped = Registry.load()
    mine = tmp_path / "mine.toml"
    mine.write_text(ENTRY)
    monkeypatch.setenv("PARITY_DIVERGENCES", str(mine))
    both = Registry.load()
    assert [e.id for e in both.entries] == [e.id for e in shipped.entries] + \
        [e.id for e in Registry.load(mine).entries]
    monkeypatch.delenv("PARITY_DIVERGENCES")
    taken = shipped.entries[0].id
    clash = tmp_path / "clash.toml"
    clash.write_text(ENTRY.replace(f'id = "{Registry.load(mine).entries[0].id}"',
                                   f'id = "{taken}"'))
    out = tmp_path / "reports"
    assert main(["run", "--ops", "conv2d_same", "--examples", "1", "--divergences", str(clash),
                 "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{taken} in {clash} is already in {DEFAULT_PATH}" in err
    assert not out.exists() and "PARITY_DIVERGENCES" not in os.environ
