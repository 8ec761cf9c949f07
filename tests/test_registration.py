"""Op declarations hold together: checked at registration, and their references give the
outputs they declare."""
import dataclasses
import inspect
import re

import pytest

from parity.spec import registry
from parity.spec.registry import RegistrationError, Variant


def _copy(op_name: str, **changes):
    return dataclasses.replace(registry.get(op_name), **changes)


@pytest.mark.parametrize("changes, message", [
    ({}, "registered twice"),
    ({"name": "x1", "variants": {"native": Variant("native", "tf_nn", "native", "")}},
     "no 'port' variant"),
    ({"name": "x2", "variants": {"port": Variant("port", "tf_nn", "port", "")}},
     "no TF side 'tf_nn'"),
    ({"name": "x3", "variants": {"port": Variant("port", "tf.nn", "prot", "")}},
     "no torch side 'prot'"),
    ({"name": "x4", "variants": {"port": Variant("native", "tf.nn", "port", "")}},
     "variant key 'port' names a Variant 'native'"),
    ({"name": "x5", "audit_tf": "tf_nn"}, "audit_tf 'tf_nn' is not a TF side"),
    ({"name": "x6", "audit_tf": ""}, "audit_tf '' is not a TF side"),
])
def test_register_refuses_a_declaration_that_does_not_hold_together(changes, message):
    with pytest.raises(RegistrationError, match=message):
        registry.register(_copy("conv2d_same", **changes))
    assert "x1" not in registry.names()


def test_a_variant_is_added_once_and_only_with_its_sides():
    with pytest.raises(RegistrationError, match="added twice"):
        registry.add_variant("conv2d_same", Variant("keras_torch", "tf.nn", "keras_torch", ""),
                             lambda c, inp: {})
    with pytest.raises(RegistrationError, match="no TF side"):
        registry.add_variant("conv1d_same", Variant("extra", "nope", "extra", ""),
                             lambda c, inp: {})
    op = registry.get("conv1d_same")
    assert "extra" not in op.variants and "extra" not in op.torch_sides


def test_every_reference_gives_exactly_the_outputs_its_op_declares():
    from parity.spec.sweep import draw_configs

    for name in registry.names():
        op = registry.get(name)
        # "dx (dx_sum where ties)" declares two names; "y{t}" one per training step
        declared = [re.compile(re.escape(n).replace(r"\{t\}", r"\d+") + "$")
                    for o in op.outputs for n in (o.split()[0], *o.partition("(")[2].split()[:1])]
        if op.reference is None:
            assert op.judge is not None, name  # distributions: judged as a whole
            continue
        for config, seed in draw_configs(name, 3, 0, ("float32",)):
            exact, bounds = op.reference(config, op.make_inputs(config, seed))
            assert all(any(d.match(k) for d in declared) for k in exact), (name, set(exact))
            assert set(exact) == set(bounds), name


def test_ports_all_lists_exactly_what_the_package_exports():
    import parity.ports as ports

    public = {n for n, v in vars(ports).items() if not n.startswith("_")
              and not inspect.ismodule(v)}
    assert set(ports.__all__) == public
    assert all(callable(getattr(ports, n)) for n in ports.__all__)


def test_generated_op_doc_is_current():
    from parity.spec.op_docs import DOC_PATH, render

    assert DOC_PATH.read_text() == render(), "docs/ops.md is stale: run make docs"
