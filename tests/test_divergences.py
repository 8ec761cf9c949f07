import pytest

from parity.spec.divergences import Registry, RegistryError


def write(tmp_path, text):
    p = tmp_path / "d.toml"
    p.write_text(text)
    return Registry.load(p)


ENTRY = """[[divergence]]
id = "x"
ops = ["conv2d_same"]
variants = ["native"]
statuses = ["rejected_torch"]
when = "max(stride) > 1"
mechanism = "m"
magnitude = "all"
"""


def test_scope_and_counts(tmp_path):
    r = write(tmp_path, ENTRY)
    assert r.classify("conv2d_same", "native", {"stride": [2, 1]}, "rejected_torch") == "x"
    assert r.classify("conv2d_same", "native", {"stride": [2, 1]}, "pass") is None
    assert r.classify("conv2d_same", "port", {"stride": [2, 1]}, "rejected_torch") is None
    assert r.classify("conv2d_same", "native", {"stride": [1, 1]}, "rejected_torch") is None
    assert r.entries[0].summary() == {"id": "x", "exercised": 2, "reproduced": 1,
                                      "intermittent": False, "not_reproduced": False}


def test_exercised_but_never_reproduced_is_flagged(tmp_path):
    r = write(tmp_path, ENTRY)
    r.classify("conv2d_same", "native", {"stride": [3, 3]}, "pass")
    assert r.entries[0].summary()["not_reproduced"] is True


def test_an_intermittent_entry_that_did_not_show_is_not_flagged(tmp_path):
    r = write(tmp_path, ENTRY + "intermittent = true\n")
    r.classify("conv2d_same", "native", {"stride": [3, 3]}, "pass")
    assert r.entries[0].summary()["not_reproduced"] is False
    assert r.classify("conv2d_same", "native", {"stride": [3, 3]}, "rejected_torch") == "x"


def test_bad_registry_is_a_one_line_error(tmp_path):
    with pytest.raises(RegistryError, match="unknown statuses"):
        write(tmp_path, ENTRY.replace('"rejected_torch"]', '"oops"]'))
    with pytest.raises(RegistryError, match="missing field"):
        write(tmp_path, "[[divergence]]\nid = 1\n")
    with pytest.raises(RegistryError, match="bad divergence registry"):
        write(tmp_path, "[[divergence]\n")


def test_shipped_registry_loads_and_every_predicate_evaluates():
    from parity.spec import registry
    from parity.spec.sweep import draw_configs

    r = Registry.load()
    assert len(r.entries) >= 8
    for e in r.entries:
        for op in e.ops:
            registry.get(op)  # every named op exists
            o = registry.get(op)
            for config, _ in draw_configs(op, 5, 0, ("float32", "bfloat16")):
                scope = dict(config.to_dict(), **(o.derived(config) if o.derived else {}))
                e.in_scope(op, (e.variants or ["port"])[0], scope)


def test_a_case_in_two_scopes_reproduces_both(tmp_path):
    second = ENTRY.replace('id = "x"', 'id = "y"').replace("max(stride) > 1", "stride[0] == 2")
    r = write(tmp_path, ENTRY + "\n" + second)
    assert r.classify("conv2d_same", "native", {"stride": [2, 1]}, "rejected_torch") == "x"
    assert [e.summary()["reproduced"] for e in r.entries] == [1, 1]


def test_a_predicate_that_fails_is_a_registry_error_and_names_the_entry(tmp_path):
    with pytest.raises(RegistryError, match="divergence x: predicate .* names limit"):
        write(tmp_path, ENTRY.replace("max(stride) > 1", "any(s > limit for s in stride)"))
    r = write(tmp_path, ENTRY.replace("max(stride) > 1", "stride > 1"))
    with pytest.raises(RegistryError, match="divergence x: predicate .* TypeError"):
        r.classify("conv2d_same", "native", {"stride": [2, 1]}, "rejected_torch")
    r2 = write(tmp_path, ENTRY.replace("max(stride) > 1", "any(s > len(variant) for s in stride)"))
    assert r2.classify("conv2d_same", "native", {"stride": [9, 1]}, "rejected_torch") == "x"


def test_generated_divergence_doc_is_current():
    from parity.spec.divergence_docs import DOC_PATH, render
    from parity.spec.divergences import DEFAULT_PATH

    assert DOC_PATH.read_text() == render(Registry.load(DEFAULT_PATH).entries), \
        "docs/divergences.md is stale: run make docs"


def test_no_entry_excuses_an_audited_candidate_wholesale():
    """An entry that explains a fail for audited candidates either names TF as the wrong side
    (the reference then judges the candidate) or lists the few outputs it covers; distribution
    ops (init_*) judge each side against the documented distribution anyway."""
    for e in Registry.load().entries:
        audited = not e.variants or "audit" in e.variants
        if "fail" in e.statuses and audited and not all(o.startswith("init_") for o in e.ops):
            assert e.judge == "reference" or e.outputs, e.id


def test_a_reference_judged_entry_never_explains_a_candidate_the_reference_rejects():
    from parity.spec.divergences import Divergence

    entry = Divergence(id="x", ops=["op"], statuses=["fail"], mechanism="m", magnitude="1",
                       outputs=["y"], judge="reference")
    registry = Registry([entry])
    assert registry.classify("op", "audit", {}, "fail", set(), {"y"}) == "x"
    assert registry.classify("op", "audit", {}, "fail", {"y"}, set()) is None
    assert registry.classify("op", "audit", {}, "fail", {"dx"}, {"y"}) is None
    # TF disagreed on y where the reference accepted it twice: reproduced, explained once only
    assert entry.reproduced == 2 and entry.exercised == 3


def test_entries_scoped_by_environment():
    from parity.spec.divergences import Divergence, RegistryError

    never = Divergence(id="x", ops=["op"], statuses=["fail"], mechanism="m", magnitude="1",
                       environment="device == 'no-such-device'")
    assert not never.in_scope("op", "port", {})
    always = Divergence(id="y", ops=["op"], statuses=["fail"], mechanism="m", magnitude="1",
                        environment="onednn or not onednn")
    assert always.in_scope("op", "port", {})
    with pytest.raises(RegistryError):
        Divergence(id="z", ops=["op"], statuses=["fail"], mechanism="m", magnitude="1",
                   environment="len(cpu) >").in_environment()


def _entry(environment: str):
    from parity.spec.divergences import Divergence

    return Divergence(id="x", ops=["op"], statuses=["rejected_torch"], mechanism="m",
                      magnitude="1", environment=environment)


@pytest.mark.parametrize("device, deterministic, expected", [
    ("cuda", "1", True), ("cuda", "0", False), ("cpu", "1", False)])
def test_an_entry_scoped_to_deterministic_cuda(monkeypatch, device, deterministic, expected):
    """The H100 finding's scope: 3-D pool backward refused only with deterministic algorithms
    on CUDA (set by --device/--deterministic, which the facts read)."""
    monkeypatch.setenv("PARITY_DEVICE", device)
    monkeypatch.setenv("PARITY_DETERMINISTIC", deterministic)
    entry = _entry("device == 'cuda' and deterministic")
    assert entry.in_scope("op", "port", {}) is expected


@pytest.mark.parametrize("version, expected", [("2.11.0+cu130", True), ("2.11.0", True),
                                               ("2.13.0+cpu", False), ("2.12.0rc1", False),
                                               ("", False)])
def test_an_entry_scoped_by_a_framework_version(monkeypatch, version, expected):
    import parity.backends.environment as environment

    real = environment._version
    monkeypatch.setattr(environment, "_version",
                        lambda name: version if name == "torch" else real(name))
    assert _entry("version_in(torch, '<2.12') and device == 'cpu'").in_scope(
        "op", "port", {}) is expected


def test_a_bad_version_specifier_is_a_registry_error():
    with pytest.raises(RegistryError, match="environment .* failed: InvalidSpecifier"):
        _entry("version_in(torch, 'about 2.11')").in_environment()


@pytest.mark.parametrize("device, deterministic, torch_version, op, config, status, failed, entry", [
    ("cuda", "1", "2.11.0+cu130", "max_pool3d_same", {"dtype": "float32"}, "rejected_torch", set(),
     "torch-cuda-deterministic-pool3d-backward"),
    ("cpu", "1", "2.11.0+cu130", "max_pool3d_same", {"dtype": "float32"}, "rejected_torch", set(),
     None),
    ("cuda", "0", "2.11.0+cu130", "avg_pool3d_same", {"dtype": "float32"}, "rejected_torch", set(),
     None),
    ("cpu", "0", "2.11.0+cu130", "conv_transpose2d_torch",
     {"dtype": "bfloat16", "in_channels": 1, "spatial": [5, 1], "kernel": [3, 6],
      "dilation": [1, 1]}, "fail", {"dx"},
     "torch-2.11-cpu-bfloat16-conv-transpose-dx"),
    ("cpu", "0", "2.13.0", "conv_transpose2d_torch",
     {"dtype": "bfloat16", "in_channels": 1, "spatial": [5, 1], "kernel": [3, 6],
      "dilation": [1, 1]}, "fail", {"dx"},
     None),
    ("cpu", "0", "2.11.0+cu130", "conv_transpose1d_torch",
     {"dtype": "bfloat16", "in_channels": 3, "spatial": [1], "kernel": [2],
      "dilation": [1]}, "fail", {"dw"},
     "torch-2.11-cpu-bfloat16-conv-transpose-dx"),
    ("cpu", "0", "2.13.0", "conv_transpose1d_torch",
     {"dtype": "bfloat16", "in_channels": 3, "spatial": [1], "kernel": [2],
      "dilation": [1]}, "fail", {"dw"},
     None),
    ("cpu", "0", "2.11.0+cu130", "conv_transpose1d_torch",
     {"dtype": "bfloat16", "in_channels": 3, "spatial": [4], "kernel": [2],
      "dilation": [1]}, "fail", {"dw"},
     None),
    ("cpu", "0", "2.11.0", "depthwise_conv2d_same",
     {"dtype": "bfloat16", "spatial": [18, 3], "kernel": [3, 4], "stride": [3, 3],
      "dilation": [3, 1]}, "fail", {"y"},
     "torch-2.11-cpu-bfloat16-depthwise-strided-dilated"),
    ("cuda", "0", "2.11.0", "depthwise_conv2d_same",
     {"dtype": "bfloat16", "spatial": [18, 3], "kernel": [3, 4], "stride": [3, 3],
      "dilation": [3, 1]}, "fail", {"y"}, None)])
def test_the_gpu_machine_findings_are_explained_only_where_they_were_measured(
        monkeypatch, device, deterministic, torch_version, op, config, status, failed, entry):
    """The findings of the H100 runs, by the registry's own entries: each explains
    its outcome in the environment it was measured in (CUDA with deterministic algorithms;
    torch 2.11 on the CPU) and nowhere else."""
    import parity.backends.environment as environment

    real = environment._version
    monkeypatch.setattr(environment, "_version",
                        lambda name: torch_version if name == "torch" else real(name))
    monkeypatch.setenv("PARITY_DEVICE", device)
    monkeypatch.setenv("PARITY_DETERMINISTIC", deterministic)
    registry = Registry.load()
    assert registry.classify(op, "port", config, status, failed) == entry
