"""Initializer op pairs: fans in every layout, ports, wrong candidates caught, mechanisms."""
import math

import numpy as np
import pytest

from parity.ops.init import InitConfig, keras_shape, reference_fans, torch_groups, torch_shape
from parity.exec.runner import run_case

LAYER_CONFIGS = [
    InitConfig("dense", 7, 5),
    InitConfig("conv1d", 6, 4, (3,), groups=2),
    InitConfig("conv2d", 3, 8, (3, 2)),
    InitConfig("conv3d", 4, 6, (2, 3, 1), groups=2),
    InitConfig("conv_transpose1d", 5, 3, (4,)),
    InitConfig("conv_transpose2d", 3, 7, (2, 3)),
    InitConfig("conv_transpose3d", 2, 3, (1, 2, 3)),
    InitConfig("depthwise1d", 5, 10, (3,)),
    InitConfig("depthwise2d", 4, 12, (3, 3)),
]


@pytest.mark.parametrize("c", LAYER_CONFIGS, ids=lambda c: c.layer)
def test_port_fans_are_keras_fans_in_torch_layout(c):
    import torch

    from parity.backends import tf as B
    from parity.ops.init_default import keras_layer, torch_module
    from parity.ports.init import keras_fans

    layer, module = keras_layer(c), torch_module(c)
    kernel = getattr(layer, "depthwise_kernel", None) or layer.kernel
    assert tuple(kernel.shape) == keras_shape(c) and tuple(module.weight.shape) == torch_shape(c)
    keras = tuple(B.keras_fans(keras_shape(c)))
    assert keras == reference_fans(c) == keras_fans(torch_shape(c), c.kind, torch_groups(c))
    theirs = torch.nn.init._calculate_fan_in_and_fan_out(module.weight)
    assert (theirs == keras) == (c.kind != "depthwise"), (theirs, keras)


CONV = {"layer": "conv2d", "in_channels": 4, "out_channels": 16, "kernel": [3, 3]}


def _he_normal_with(gain=math.sqrt(2), mode="fan_in", truncate=True):
    """he_normal_ made wrong in one way."""
    import torch

    from parity.ports.init import TRUNCATED_STD, keras_fans

    def fill(w, layer, groups, generator):
        fan_in, fan_out = keras_fans(w.shape, layer, groups)
        std = gain / math.sqrt(fan_in if mode == "fan_in" else fan_out)
        with torch.no_grad():
            if truncate:
                s = std / TRUNCATED_STD
                return torch.nn.init.trunc_normal_(w, 0, s, -2 * s, 2 * s, generator=generator)
            return w.normal_(0, std, generator=generator)
    return fill


@pytest.mark.parametrize("wrong, what", [
    (_he_normal_with(gain=1.0), "gain 1 (LeCun) instead of sqrt(2)"),
    (_he_normal_with(mode="fan_out"), "fan_out instead of fan_in"),
    (_he_normal_with(truncate=False), "no truncation"),
])
def test_a_wrong_initializer_is_caught(wrong, what):
    for seed in range(3):
        rec = run_case("init_he_normal", "port", CONV, seed, candidate=wrong)
        assert rec["status"] == "fail", (what, rec["outputs"]["kernel"]["p_values"])
    right = run_case("init_he_normal", "port", CONV, 0, candidate=_he_normal_with())
    assert right["status"] == "pass", right["outputs"]["kernel"]["p_values"]


def test_a_default_init_that_keeps_torch_bias_is_caught():
    from parity.ports.init import glorot_uniform_, keras_layer_of

    def kernel_only(module, generator):  # the torch default bias stays
        kind, groups = keras_layer_of(module)
        glorot_uniform_(module.weight, layer=kind, groups=groups, generator=generator)
        return module
    rec = run_case("init_default_conv", "port", CONV, 0, candidate=kernel_only)
    assert rec["status"] == "fail"
    assert not rec["outputs"]["kernel"]["failed"] and rec["outputs"]["bias"]["failed"]


def test_port_fan_mismatch_is_reported_exactly():
    rec = run_case("init_he_uniform", "native", {"layer": "depthwise2d", "in_channels": 8,
                                                "out_channels": 16, "kernel": [3, 3]}, 0)
    fans = rec["outputs"]["kernel"]["fans"]
    assert fans == {"tf": [72, 18], "torch": [9, 144], "reference": [72, 18], "mode": "fan_in",
                    "match": False}
    assert rec["status"] == "fail" and rec["outputs"]["kernel"]["farther"] == "torch"


def test_tf_bfloat16_uniform_has_128_values():
    """The mechanism of tf-bfloat16-uniform-7-bits, measured; if TF draws more bits this fails
    and the registry entry must go."""
    from parity.backends import tf as B

    x = B.to_numpy(B.keras().random.uniform((200_000,), -1.0, 1.0, dtype="bfloat16", seed=3))
    values = np.unique(x)
    assert len(values) == 128 and values.max() == 1 - 1 / 64
    assert x.mean() == pytest.approx(-1 / 128, abs=0.004)


def test_torch_trunc_normal_bounds_are_absolute():
    """The mechanism of torch-trunc-normal-absolute-bounds: defaults a=-2, b=2 whatever std is."""
    import torch

    w = torch.nn.init.trunc_normal_(torch.empty(100_000), std=3.0,
                                    generator=torch.Generator().manual_seed(0))
    assert float(w.abs().max()) <= 2.0 and float(w.std()) < 1.5


def test_port_handles_half_precision_by_rounding_float32_draws():
    import torch

    from parity.ports.init import he_normal_

    w = he_normal_(torch.empty(64, 32, 3, 3, dtype=torch.bfloat16),
                   generator=torch.Generator().manual_seed(0))
    assert w.dtype == torch.bfloat16 and float(w.float().std()) == pytest.approx(
        math.sqrt(2 / 288), rel=0.03)


def test_bad_port_arguments_are_one_line_errors():
    import torch

    from parity.ports.init import keras_default_init_, keras_fans, variance_scaling_

    with pytest.raises(ValueError, match="unknown layer"):
        keras_fans((3, 3), "lstm")
    with pytest.raises(ValueError, match="depthwise weight"):
        keras_fans((6, 2, 3), "depthwise", groups=3)
    with pytest.raises(ValueError, match="unknown distribution"):
        variance_scaling_(torch.empty(3, 3), distribution="cauchy", layer="dense")
    with pytest.raises(TypeError, match="no Keras layer"):
        keras_default_init_(torch.nn.ReLU())


def test_profiles_draw_a_quarter_of_the_configs_for_init_ops_and_examples_are_exact():
    from parity.spec.sweep import plan_cases

    scaled = plan_cases(["init_he_uniform", "conv1d_same"], ["port"], 8, 0, ("float32",))
    exact = plan_cases(["init_he_uniform"], ["port"], 8, 0, ("float32",), per_op_share=False)
    assert [op for op, *_ in scaled].count("init_he_uniform") == 2
    assert [op for op, *_ in scaled].count("conv1d_same") == 8 and len(exact) == 8
