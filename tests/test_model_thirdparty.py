"""parity model on models nobody here wrote: torchvision-style ports of keras.applications-style
models (branches run in another order, in-place ops, pads outside the conv), matched by dataflow
with no mapping. Each correct port passes; each typical mistake is caught at its layer with its
mechanism."""
import numpy as np
import pytest

from parity.model import ModelError, compare
from parity.model import zoo_thirdparty as z
from parity.model.weights import randomize


def _pair(keras_model, seed=0):
    from parity.backends import tf as B

    B.keras().utils.set_random_seed(seed)
    model = keras_model()
    shape = tuple(model.inputs[0].shape[1:])
    x = np.random.default_rng(seed).uniform(-1, 1, (2, *shape)).astype(np.float32)
    return model, x, randomize(model, x, seed)


@pytest.fixture(scope="module")
def resnet():
    return _pair(z.keras_resnet)


@pytest.fixture(scope="module")
def mobilenet():
    return _pair(z.keras_mobilenet_v2)


def _rows(result):
    return {r["layer"]: r for r in result["layers"]}


def test_a_torchvision_style_resnet_port_passes_with_its_shortcut_run_after_bn3(resnet):
    model, x, how = resnet
    result = compare(model, z.torchvision_resnet(), inputs=x, weights=how)
    rows = _rows(result)
    assert result["verdict"]["status"] == "pass", result["verdict"]
    # the shortcut conv reads the block's input, whatever the order either side lists it in
    assert rows["conv2_block1_0_conv"]["torch"] == ["layer1.0.downsample.0"]
    assert rows["conv2_block1_3_conv"]["torch"] == ["layer1.0.conv3"]
    assert rows["conv2_block1_out"]["torch"] == ["layer1.0.relu#2"]   # after the in-place add
    assert rows["conv1_conv"]["torch"] == ["conv1"]   # padding=3 inside = conv1_pad + VALID
    assert rows["conv2_block1_add"]["torch"] == ["add"]   # out += identity in forward
    assert rows["conv2_block1_add"]["isolated"]["float64"]["shape_match"]
    assert result["layers_compared"] == 50 and result["not_compared"] == ["conv1_pad", "pool1_pad"]


@pytest.mark.parametrize("mistake, layer, text", [
    ("v1.5", "conv3_block1_1_conv", "stride (1, 1) (Keras strides (2, 2))"),
    ("no-bias", "conv1_conv", "has no 'bias'"),
    ("bn-defaults", "conv1_bn", "eps 1e-05 (Keras epsilon 1.001e-05)"),
    # the identity block's Add has no counterpart: the next conv reads less than Keras's
    ("no-residual", "conv3_block1_1_conv", "from conv2_block1_out and conv2_block2_3_bn in "
     "Keras, from conv2_block2_3_bn in torch (a branch missing on the torch side)"),
])
def test_each_resnet_port_mistake_is_caught_at_its_layer(resnet, mistake, layer, text):
    model, x, _ = resnet
    v = compare(model, z.torchvision_resnet(mistake=mistake), inputs=x)["verdict"]
    assert v["status"] == "fail" and v["first_diverging"] == layer
    assert text in v["cause"]["text"]


def test_a_torchvision_style_mobilenet_v2_with_inplace_relu6_and_pads_outside_passes(mobilenet):
    """ReLU6(inplace=True) after every BatchNorm: the values captured are copies (hooks that
    kept the tensor saw it rewritten by the ReLU); F.pad in forward and nn.ZeroPad2d before
    padding=0 convs are part of the conv's segment."""
    model, x, how = mobilenet
    result = compare(model, z.torchvision_mobilenet_v2(), inputs=x, weights=how)
    rows = _rows(result)
    assert result["verdict"]["status"] == "pass", result["verdict"]
    assert rows["Conv1"]["isolated"]["float32"]["shape_match"]   # F.pad + conv(padding=0)
    assert rows["bn_Conv1"]["propagated"]["float64"]["bound_ratio"] < 1
    assert rows["block_1_pad"]["torch"] == ["features.2.conv.1.0"]   # ZeroPad2d = ZeroPadding2D


@pytest.mark.parametrize("mistake, layer, entry", [
    ("symmetric", "Conv1", "torch-symmetric-padding-k-over-2"),
    ("bn-defaults", "bn_Conv1", "torch-batchnorm-defaults-copied"),
])
def test_each_mobilenet_port_mistake_is_caught_with_its_mechanism(mobilenet, mistake, layer,
                                                                  entry):
    model, x, _ = mobilenet
    v = compare(model, z.torchvision_mobilenet_v2(mistake=mistake), inputs=x)["verdict"]
    assert v["status"] == "fail" and v["first_diverging"] == layer
    assert v["cause"]["op_pair"]["divergence"]["id"] == entry


def test_hooks_that_keep_the_tensor_would_see_it_rewritten_by_an_inplace_relu():
    """What the copies guard against: the output a forward hook receives is rewritten by the
    next in-place ReLU6."""
    import torch
    import torch.nn as nn

    net = nn.Sequential(nn.BatchNorm2d(2).eval(), nn.ReLU6(inplace=True))
    kept = []
    net[0].register_forward_hook(lambda m, a, out: kept.append((out.numpy(), out.numpy().copy())))
    with torch.no_grad():
        net(-torch.ones(1, 2, 2, 2))
    shared, copied = kept[0]
    assert (shared == 0).all() and (copied < 0).all()


def test_an_unmappable_weighted_layer_names_the_last_pair_matched():
    import torch.nn as nn

    from parity.backends import tf as B

    keras = B.keras()
    L = keras.layers
    inp = keras.Input((8, 8, 3))
    model = keras.Model(inp, L.Conv2D(4, 3, name="c2")(L.Conv2D(4, 3, name="c1")(inp)))
    wrong = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4))
    with pytest.raises(ModelError, match="cannot map Keras layer 'c2'.*last matched: Keras 'c1' = "
                                         "torch '0'.*next unmatched torch call: '1'"):
        compare(model, wrong, inputs=np.zeros((1, 8, 8, 3), np.float32), explain=False)


def _stem():
    from parity.backends import tf as B

    keras = B.keras()
    inp = keras.Input((16, 16, 3))
    return keras.Model(inp, keras.layers.Conv2D(8, 3, strides=2, padding="same", name="stem")(inp))


@pytest.mark.parametrize("mapping", [None, {"stem": ["0", "1"]}])
def test_a_zero_pad_module_before_a_valid_conv_is_the_keras_same_conv(mapping):
    """Keras's SAME conv at stride 2 as torch writes it by hand: ZeroPad2d((0, 1, 0, 1)) and a
    padding=0 conv. Found by itself, or named with both modules: the weights go to the conv."""
    import torch.nn as nn

    model, x, how = _pair(_stem)
    port = nn.Sequential(nn.ZeroPad2d((0, 1, 0, 1)), nn.Conv2d(3, 8, 3, stride=2))
    result = compare(model, port, inputs=x, mapping=mapping, weights=how)
    assert result["verdict"]["status"] == "pass", result["layers"]
    assert result["carry"]["problems"] == [] and result["carry"]["torch_unmatched"] == []
    symmetric = nn.Sequential(nn.ZeroPad2d(1), nn.Conv2d(3, 8, 3, stride=2))   # a wrong pad
    assert compare(model, symmetric, inputs=x, mapping=mapping)["verdict"]["status"] == "fail"


def _transposed_then_cropped(crop):
    """Keras's SAME transposed conv (k=3, s=2) written as converters write it: VALID, then
    ``Cropping2D``; ``crop`` ((1, 0), (1, 0)) is the right one."""
    def build():
        from parity.backends import tf as B

        keras = B.keras()
        L = keras.layers
        inp = keras.Input((8, 8, 3))
        y = L.Conv2DTranspose(4, 3, strides=2, padding="valid", name="up")(inp)
        y = L.Cropping2D(crop, name="crop")(y)
        return keras.Model(inp, L.Conv2D(2, 1, name="head")(y))
    return build


def test_a_keras_crop_after_a_valid_transposed_conv_is_the_torch_padded_one():
    """torch's ConvTranspose2d(padding=1, output_padding=1) crops itself what Keras crops in a
    layer of its own: compared at the crop (16x16 both), the pair agrees; a crop at the other
    end is caught at the transposed conv."""
    import torch.nn as nn

    def port():
        return nn.Sequential(nn.ConvTranspose2d(3, 4, 3, stride=2, padding=1, output_padding=1),
                             nn.Conv2d(4, 2, 1))
    model, x, how = _pair(_transposed_then_cropped(((1, 0), (1, 0))))
    result = compare(model, port(), inputs=x, weights=how)
    rows = _rows(result)
    assert result["verdict"]["status"] == "pass", result["layers"]
    assert "with the following crop" in rows["up"]["compared"]
    assert rows["up"]["isolated"]["float32"]["shape_match"]
    model, x, _ = _pair(_transposed_then_cropped(((0, 1), (0, 1))))
    v = compare(model, port(), inputs=x, explain=False)["verdict"]
    assert v["status"] == "fail" and v["first_diverging"] == "up"


def test_a_port_that_drops_a_residual_add_fails_where_the_sum_is_read(mobilenet):
    """Without ``x + self.conv(x)`` the torch graph no longer reads what Keras's next conv reads
    (both branches of block_2_add): that conv is matched by its weights to the torch conv that
    reads one branch, compared from what each side reads, and diverges, its row and the cause
    naming the branch missing (it used to be a mapping error: exit 2 for a wrong port)."""
    model, x, how = mobilenet
    port = z.torchvision_mobilenet_v2()
    port.features[3].use_res_connect = False
    result = compare(model, port, inputs=x, weights=how)
    v = result["verdict"]
    assert v["status"] == "fail" and v["first_diverging"] == "Conv_1"
    text = ("its input comes from block_1_project_BN and block_2_project_BN in Keras, from "
            "block_2_project_BN in torch (a branch missing on the torch side)")
    assert _rows(result)["Conv_1"]["structure"] == text and text in v["cause"]["text"]


def test_weights_carried_from_torch_into_keras_make_a_correct_port_pass():
    """A model ported from torch to Keras: the torch module keeps its own (torch-initialized)
    weights, they go into the Keras model converted, and the pair agrees; every torch tensor
    with a Keras counterpart is carried. Keras's own weights, not carried, disagree."""
    import torch

    from parity.backends import tf as B

    B.keras().utils.set_random_seed(1)
    torch.manual_seed(1)
    model = z.keras_resnet()
    port = z.torchvision_resnet()
    for m in port.modules():   # non-trivial BatchNorm statistics on the torch side
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 1.5)
    x = np.random.default_rng(1).uniform(-1, 1, (2, *z.RESNET_INPUT)).astype(np.float32)
    before = {n: p.detach().clone() for n, p in port.state_dict().items()}
    result = compare(model, port, inputs=x, carry_weights="torch-to-keras")
    assert result["verdict"]["status"] == "pass", result["verdict"]
    assert result["carry_direction"] == "torch-to-keras" and result["carry"]["problems"] == []
    assert result["carry"]["torch_unmatched"] == []   # num_batches_tracked: no weight
    assert all(torch.equal(before[n], p) for n, p in port.state_dict().items())   # untouched
    kernel = model.get_layer("conv2_block1_0_conv").get_weights()[0]
    assert np.array_equal(kernel.transpose(3, 2, 0, 1),
                          before["layer1.0.downsample.0.weight"].numpy())
    fresh = z.keras_resnet()
    v = compare(fresh, z.torchvision_resnet(), inputs=x, carry_weights=False, explain=False)
    assert v["verdict"]["status"] == "fail"


def _small_cnn():
    from parity.backends import tf as B

    keras = B.keras()
    L = keras.layers
    inp = keras.Input((12, 12, 3))
    y = L.Conv2D(6, 3, padding="same", name="conv")(inp)
    y = L.ReLU(name="relu")(L.BatchNormalization(name="bn")(y))
    y = L.GlobalAveragePooling2D(name="gap")(y)
    return keras.Model(inp, L.Dense(4, name="head")(y))


def test_a_module_that_takes_channels_last_input_and_transposes_it_itself():
    """A converter's output takes NHWC and permutes it in forward: with input_layout="nhwc" the
    pair agrees; fed NCHW (the default) it fails on the first layer."""
    import torch.nn as nn

    class Converted(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 6, 3, padding=1)
            self.bn = nn.BatchNorm2d(6, eps=1e-3, momentum=0.01)
            self.relu = nn.ReLU()
            self.gap = nn.AdaptiveAvgPool2d(1)
            self.head = nn.Linear(6, 4)

        def forward(self, x):
            x = self.relu(self.bn(self.conv(x.permute(0, 3, 1, 2))))
            return self.head(self.gap(x).flatten(1))

    model, x, how = _pair(_small_cnn)
    result = compare(model, Converted(), inputs=x, weights=how, input_layout="nhwc")
    assert result["verdict"]["status"] == "pass" and result["input_layout"] == "nhwc"
    with pytest.raises(ModelError, match="torch module failed on the input"):
        compare(model, Converted(), inputs=x, explain=False)
    with pytest.raises(ModelError, match="input_layout must be"):
        compare(model, Converted(), inputs=x, input_layout="chw")


def test_contradicting_carry_flags_are_bad_input(tmp_path, capsys):
    from parity.cli import main

    assert main(["model", "--zoo", "twin", "--no-carry", "--carry", "torch-to-keras",
                 "--out", str(tmp_path)]) == 2
    assert "contradict" in capsys.readouterr().err


class _BinaryOp:
    """onnx2torch's OnnxBinaryMathOperation, as published: one torch function on two inputs."""

    def __new__(cls, fn):
        import torch.nn as nn

        class OnnxBinaryMathOperation(nn.Module):
            def __init__(self):
                super().__init__()
                self.math_op_function = fn

            def forward(self, first, second):
                return self.math_op_function(first, second)
        return OnnxBinaryMathOperation()


def _onnx_global_pool(reduce="mean"):
    """onnx2torch's GlobalAveragePool and Squeeze modules, as published (the mean kept 4-d,
    the axes an int64 constant given as the second input); ``reduce="amax"``: a wrong pool."""
    import torch
    import torch.nn as nn

    class OnnxGlobalAveragePoolWithKnownInputShape(nn.Module):
        def forward(self, x):
            return getattr(torch, reduce)(x, dim=[2, 3], keepdim=True)

    class OnnxSqueezeDynamicAxes(nn.Module):
        def forward(self, x, axes):
            for a in torch.sort(axes, descending=True).values:
                x = torch.squeeze(x, dim=int(a))
            return x
    return OnnxGlobalAveragePoolWithKnownInputShape(), OnnxSqueezeDynamicAxes()


def _converted_cnn(bn_as="chain", gap=None):
    """A converter's output for _small_cnn: the BatchNormalization as x * scale + shift and the
    Dense as x @ W + b, modules of one operation taking the constant as their second input."""
    import torch
    import torch.nn as nn

    class OnnxMatMul(nn.Module):
        def forward(self, x, y):
            return torch.matmul(x, y)

    class Converted(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 6, 3, padding=1)
            self.register_buffer("bn_scale", torch.ones(1, 6, 1, 1))
            self.register_buffer("bn_shift", torch.zeros(1, 6, 1, 1))
            self.register_buffer("dense_w", torch.zeros(6, 4))
            self.register_buffer("dense_b", torch.zeros(4))
            self.mul, self.add = _BinaryOp(torch.mul), _BinaryOp(torch.add)
            self.matmul, self.add_1 = OnnxMatMul(), _BinaryOp(torch.add)
            self.relu = nn.ReLU()
            self.shift_first = bn_as == "shift-first"
            if gap:
                self.gap, self.squeeze = _onnx_global_pool(gap)
                self.register_buffer("axes", torch.tensor([2, 3]))

        def forward(self, x):
            y = self.conv(x)
            if self.shift_first:   # a wrong fold: (x + shift) * scale
                y = self.mul(self.add(y, self.bn_shift), self.bn_scale)
            else:
                y = self.add(self.mul(y, self.bn_scale), self.bn_shift)
            y = self.relu(y)
            y = self.squeeze(self.gap(y), self.axes) if hasattr(self, "gap") else \
                y.mean(dim=(2, 3))
            return self.add_1(self.matmul(y, self.dense_w), self.dense_b)
    return Converted()


def test_a_converters_folded_batchnorm_and_matmul_dense_are_matched_and_carried():
    """x * scale + shift for BatchNormalization and x @ W + b for Dense, each a module taking
    two inputs: matched by dataflow, Keras's weights folded into the constants (float64 kept
    exact for the float64 run), and the pair agrees; a fold in the wrong order is refused."""
    model, x, how = _pair(_small_cnn)
    result = compare(model, _converted_cnn(), inputs=x, weights=how)
    rows = _rows(result)
    assert result["verdict"]["status"] == "pass", result["layers"]
    assert rows["bn"]["torch"] == ["mul", "add"] and rows["head"]["torch"] == ["matmul", "add_1"]
    assert rows["bn"]["isolated"]["float64"]["bound_ratio"] < 1
    assert result["carry"]["torch_unmatched"] == [] and result["carry"]["problems"] == []
    with pytest.raises(ModelError, match="cannot map Keras layer 'bn'"):
        compare(model, _converted_cnn("shift-first"), inputs=x, explain=False)


def test_onnx2torchs_global_pool_and_squeeze_are_the_keras_pooling_and_a_wrong_pool_is_caught():
    """GlobalAveragePool kept 4-d and a Squeeze taking its axes as an int64 constant: the pool
    is matched to GlobalAveragePooling2D (compared with its size-1 dimensions dropped), the
    Dense after it is fed Keras's pooled value in the pool's 4-d shape, and the axes are not
    counted as an unmatched weight. A max pool in its place is caught at the pooling."""
    model, x, how = _pair(_small_cnn)
    result = compare(model, _converted_cnn(gap="mean"), inputs=x, weights=how)
    rows = _rows(result)
    assert result["verdict"]["status"] == "pass", result["layers"]
    assert rows["gap"]["torch"] == ["gap"] and result["not_compared"] == []
    assert rows["head"]["isolated"]["float64"]["bound_ratio"] < 1
    assert result["carry"]["torch_unmatched"] == []
    v = compare(model, _converted_cnn(gap="amax"), inputs=x, explain=False)["verdict"]
    assert v["status"] == "fail" and v["first_diverging"] == "gap"


def _flatten_cnn():
    from parity.backends import tf as B

    keras = B.keras()
    L = keras.layers
    inp = keras.Input((6, 6, 3))
    y = L.Flatten(name="flat")(L.Conv2D(4, 3, padding="same", name="conv")(inp))
    return keras.Model(inp, L.Dense(5, name="head")(y))


def _flatten_port(order: str):
    """Conv, flatten, Linear; ``order="hwc"`` transposes back to channels-last first, as
    tf2onnx's graph does before its Reshape."""
    import torch.nn as nn

    class Port(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv, self.head = nn.Conv2d(3, 4, 3, padding=1), nn.Linear(144, 5)
            self.order = order

        def forward(self, x):
            y = self.conv(x)
            if self.order == "hwc":
                y = y.permute(0, 2, 3, 1)
            return self.head(y.reshape(y.shape[0], -1))
    return Port()


def test_a_dense_after_a_flatten_in_keras_order_gets_its_rows_in_that_order():
    """torch's flatten of NCHW needs the Dense rows reordered (c, h, w); a graph that
    transposes back to NHWC first (tf2onnx) flattens in Keras's order and needs none: found
    by running the flatten on a probe, so both ports pass carried. Not carried, rows in torch's
    order under a Keras-order flatten are caught at the Dense."""
    model, x, how = _pair(_flatten_cnn)
    for order in ("chw", "hwc"):
        result = compare(model, _flatten_port(order), inputs=x, weights=how)
        assert result["verdict"]["status"] == "pass", (order, result["layers"])
    port = _flatten_port("chw")
    compare(model, port, inputs=x, explain=False)   # carried in torch's (c, h, w) order
    port.order = "hwc"
    v = compare(model, port, inputs=x, carry_weights=False, explain=False)["verdict"]
    assert v["status"] == "fail" and v["first_diverging"] == "head"


def test_without_carrying_only_the_tensors_without_a_keras_counterpart_are_unmatched(resnet):
    """--no-carry used to list every torch parameter as unmatched; now only those no Keras
    weight corresponds to: an extra module (integer tensors, a BatchNorm's num_batches_tracked
    counter, are no weights and are not listed)."""
    import torch.nn as nn

    model, x, _ = resnet
    port = z.torchvision_resnet()
    port.extra = nn.Linear(2, 2)   # never called: no Keras counterpart
    result = compare(model, port, inputs=x, carry_weights=False, explain=False)
    left = [t["name"] for t in result["carry"]["torch_unmatched"]]
    assert sorted(left) == ["extra.bias", "extra.weight"], left


def _fold_float32(model, port, eps=True):
    """The converter's own fold: Keras's BatchNormalization folded in float32 arithmetic (with
    its epsilon, or without: a wrong fold), the Dense kernel as is."""
    import torch

    g, b, mean, var = (w.astype(np.float32) for w in model.get_layer("bn").get_weights())
    e = np.float32(model.get_layer("bn").epsilon if eps else 0.0)
    scale = g / np.sqrt(var + e)
    with torch.no_grad():
        port.bn_scale.copy_(torch.from_numpy(scale.reshape(1, -1, 1, 1)))
        port.bn_shift.copy_(torch.from_numpy((b - mean * scale).reshape(1, -1, 1, 1)))


def test_a_converters_own_float32_fold_passes_where_the_bound_counts_its_rounding():
    """Not carried, the chain's constants are the converter's, folded in float32: the float64
    comparison alone would call float32's rounding a divergence; the bound includes the
    constants' difference from Keras's weights folded in float64, and says so. A fold without
    epsilon is still caught, at the BatchNormalization."""
    model, x, how = _pair(_small_cnn)
    port = _converted_cnn()
    compare(model, port, inputs=x, explain=False)   # the conv and Dense carried, as converted
    _fold_float32(model, port)
    result = compare(model, port, inputs=x, carry_weights=False, explain=False)
    rows = _rows(result)
    assert result["verdict"]["status"] == "pass", rows["bn"]
    assert "folded in float64" in rows["bn"]["weights_bound"]
    _fold_float32(model, port, eps=False)
    v = compare(model, port, inputs=x, carry_weights=False, explain=False)["verdict"]
    assert v["status"] == "fail" and v["first_diverging"] == "bn"


def test_a_timm_style_block_with_squeeze_excite_passes_and_a_missing_gate_is_caught():
    """timm's Conv2dSame (F.pad inside its forward), SiLU modules after BN, and squeeze-excite
    written with x.mean and x * gate: the se convs take their activations, Keras's multiply is
    x * gate. Without the sigmoid gate, se_expand is compared before its sigmoid (torch has no
    module for it) and agrees; the port is caught where the ungated value is used: the excite."""
    model, x, how = _pair(z.keras_efficientnet_block)
    result = compare(model, z.timm_efficientnet_block(), inputs=x, weights=how)
    rows = _rows(result)
    assert result["verdict"]["status"] == "pass", result["verdict"]
    assert rows["block1a_se_reduce"]["torch"] == ["se.conv_reduce", "se.act1"]
    assert rows["block1a_se_expand"]["torch"] == ["se.conv_expand", "se.gate"]
    assert rows["block1a_se_excite"]["torch"] == ["mul"]
    wrong = compare(model, z.timm_efficientnet_block("se-no-gate"), inputs=x, explain=False)
    assert wrong["verdict"]["status"] == "fail"
    assert wrong["verdict"]["first_diverging"] == "block1a_se_excite"
    assert "before its sigmoid" in _rows(wrong)["block1a_se_expand"]["compared"]
    assert "applies none right after it" in _rows(wrong)["block1a_se_expand"]["compared"]


def test_an_inplace_op_in_a_segment_never_writes_into_the_values_it_was_fed():
    """out += identity and ReLU(inplace=True) run on the values given to a segment: they get
    tensors of their own, the caller's arrays keep their values."""
    import torch.nn as nn

    from parity.model.torch_graph import TorchGraph

    class Block(nn.Module):
        def __init__(self):
            super().__init__()
            self.relu = nn.ReLU(inplace=True)

        def forward(self, x):
            y = self.relu(x)   # in place, on the segment's input itself
            y += 1
            return y

    g = TorchGraph(Block())
    fed = -np.ones((1, 2, 2, 2), np.float32)
    fed.setflags(write=False)   # as Keras's outputs come
    kept = fed.copy()
    out = g.call_segment(g.nodes[-1].label, {"input": fed}, "float32")
    assert (out == 1).all() and np.array_equal(fed, kept)


def test_an_activation_written_as_a_function_is_part_of_the_layer():
    """Keras's fused activation against F.relu in forward: compared after the activation. A
    torch.sigmoid there instead is not relu: the conv is compared before its activation, and
    the sigmoid, now at the start of the next layer's segment, is caught there."""
    import torch
    import torch.nn as nn
    import torch.nn.functional as F

    def build():
        from parity.backends import tf as B

        keras = B.keras()
        inp = keras.Input((8, 8, 3))
        y = keras.layers.Conv2D(4, 3, padding="same", activation="relu", name="c")(inp)
        return keras.Model(inp, keras.layers.Conv2D(2, 1, name="head")(y))

    class Port(nn.Module):
        def __init__(self, act):
            super().__init__()
            self.c, self.head, self.act = nn.Conv2d(3, 4, 3, padding=1), nn.Conv2d(4, 2, 1), act

        def forward(self, x):
            return self.head(self.act(self.c(x)))

    model, x, how = _pair(build)
    result = compare(model, Port(F.relu), inputs=x, weights=how)
    rows = _rows(result)
    assert result["verdict"]["status"] == "pass" and len(rows["c"]["torch"]) == 2
    assert "compared" not in rows["c"]   # after the activation, as Keras's output is
    v = compare(model, Port(torch.sigmoid), inputs=x, explain=False)["verdict"]
    assert v["status"] == "fail" and v["first_diverging"] == "head"
