"""Layer shapes from real networks, for the ``realistic`` profile.

Each ``Layer`` is one layer of a published network at its usual input size (224x224 for the
ImageNet classifiers, 299 for Xception, 256 for U-Net, 16 kHz audio for WaveNet), as its
reference implementation defines it: input size, channels, kernel, stride, dilation, groups.
An op that opts in (``OpPair.realistic``) draws a config from its usual strategy and replaces
the geometry with a drawn layer's, and the batch with one drawn from 1 to 8, capped so that
the case costs at most ``CAP[dtype]`` (``COST``: multiply-adds, or their equivalent in time).
Both frameworks' float16 convolutions on a CPU take about 1.3 s for a 56x56x64 3x3 layer, 20x
float32's: float16 draws only the cheaper layers. Every other field (bias, fill, mode,
epsilon, dtype) is drawn as usual, and the bounds are the same rule as for the small shapes.

Example:
    >>> layer = LAYERS["conv2d"][0]
    >>> layer.network, layer.fields["kernel"], layer.cost("conv2d") < CAP["float32"]
    ('ResNet-50', (7, 7), True)
"""
from __future__ import annotations

import dataclasses
import math

from hypothesis import assume, strategies as st

CAP = {"float64": 6e8, "float32": 6e8, "bfloat16": 6e8, "float16": 4e7}
"""Most one case may cost (batch included), by dtype (``Layer.cost``)."""
MAX_BATCH = 8


@dataclasses.dataclass(frozen=True)
class Layer:
    network: str
    name: str
    fields: dict

    def cost(self, kind: str) -> int:
        """One sample's cost: multiply-adds of the forward pass for a convolution, weighted
        elements for pooling and normalization (``COST``)."""
        return COST[kind](self.fields)


def _conv_cost(f: dict) -> int:
    out = math.prod(-(-n // s) for n, s in zip(f["spatial"], f["stride"]))
    return out * f["out_channels"] * f["in_channels"] // f.get("groups", 1) * math.prod(f["kernel"])


def _separable_cost(f: dict) -> int:
    out = math.prod(-(-n // s) for n, s in zip(f["spatial"], f["stride"]))
    mid = f["in_channels"] * f.get("depth_multiplier", 1)
    return out * mid * (math.prod(f["kernel"]) + f["out_channels"])


COST = {
    "conv2d": _conv_cost, "depthwise": _conv_cost, "conv1d": _conv_cost, "causal": _conv_cost,
    "separable": _separable_cost,
    "transpose_tf": lambda f: (math.prod(f["spatial"]) * f["in_channels"] * f["out_channels"]
                               * math.prod(f["kernel"])),
    "transpose_torch": lambda f: (math.prod(f["spatial"]) * f["in_channels"]
                                  * f["out_channels"] * math.prod(f["kernel"])),
    "pool": lambda f: math.prod(f["spatial"]) * f["channels"] * math.prod(f["window"]) * 16,
    "norm": lambda f: math.prod(f["spatial"]) * f["channels"] * 256,
    "group_norm": lambda f: math.prod(f["spatial"]) * f["channels"] * 256,
}
"""A sample's cost in units that take about as long as one multiply-add of a convolution case
(measured on a 2-core CPU, every step of a case included: both frameworks, the float64
reference and the comparison): a pooling window cell 16, a normalized element 256 (the
normalizations compare up to 6 outputs per training step)."""


def _conv(network, name, size, cin, cout, k, s=1, d=1, groups=1, rank=2):
    size = (size,) * rank if isinstance(size, int) else size
    return Layer(network, name, dict(rank=rank, spatial=size, in_channels=cin, out_channels=cout,
                                     kernel=(k,) * rank, stride=(s,) * rank,
                                     dilation=(d,) * rank, groups=groups))


def _dw(network, name, size, channels, k, s=1):
    return _conv(network, name, size, channels, channels, k, s, groups=channels)


def _separable(network, name, size, cin, cout, k=3, s=1, d=1):
    return Layer(network, name, dict(rank=2, spatial=(size, size), in_channels=cin,
                                     out_channels=cout, kernel=(k, k), stride=(s, s),
                                     dilation=(d, d), depth_multiplier=1))


def _transpose_tf(network, name, size, cin, cout, k, s, padding="same"):
    return Layer(network, name, dict(rank=2, spatial=(size, size), in_channels=cin,
                                     out_channels=cout, kernel=(k, k), stride=(s, s),
                                     dilation=(1, 1), convention="tf", padding=padding,
                                     torch_padding=(), output_padding=()))


def _transpose_torch(network, name, size, cin, cout, k, s, p, op=0):
    return Layer(network, name, dict(rank=2, spatial=(size, size), in_channels=cin,
                                     out_channels=cout, kernel=(k, k), stride=(s, s),
                                     dilation=(1, 1), convention="torch", torch_padding=(p, p),
                                     output_padding=(op, op)))


def _pool(network, name, size, channels, window, stride):
    return Layer(network, name, dict(rank=2, spatial=(size, size), channels=channels,
                                     window=(window, window), stride=(stride, stride)))


def _norm(network, name, size, channels, **extra):
    return Layer(network, name, dict(rank=2, spatial=(size, size), channels=channels, **extra))


LAYERS: dict[str, tuple[Layer, ...]] = {
    "conv2d": (
        _conv("ResNet-50", "conv1 7x7/2", 224, 3, 64, 7, 2),
        _conv("ResNet-50", "layer1 1x1 reduce", 56, 256, 64, 1),
        _conv("ResNet-50", "layer1 3x3", 56, 64, 64, 3),
        _conv("ResNet-50", "layer1 1x1 expand", 56, 64, 256, 1),
        _conv("ResNet-50", "layer2 3x3/2", 56, 128, 128, 3, 2),
        _conv("ResNet-50", "layer2 downsample 1x1/2", 56, 256, 512, 1, 2),
        _conv("ResNet-50", "layer3 3x3", 14, 256, 256, 3),
        _conv("ResNet-50", "layer3 1x1 reduce", 14, 1024, 256, 1),
        _conv("ResNet-50", "layer4 3x3", 7, 512, 512, 3),
        _conv("ResNet-50", "layer4 1x1 expand", 7, 512, 2048, 1),
        _conv("ResNeXt-50 32x4d", "layer1 3x3 grouped", 56, 128, 128, 3, groups=32),
        _conv("ResNeXt-50 32x4d", "layer3 3x3/2 grouped", 28, 512, 512, 3, 2, groups=32),
        _conv("DeepLabv3 ResNet-50 (output stride 16)", "layer4 3x3 dilation 2", 14, 512, 512,
              3, d=2),
        _conv("DeepLabv3+ MobileNetV2", "ASPP 3x3 rate 6", 14, 320, 256, 3, d=6),
        _conv("DeepLabv3+ MobileNetV2", "ASPP 3x3 rate 12", 14, 320, 256, 3, d=12),
        _conv("MobileNetV2, EfficientNet-B0", "stem 3x3/2", 224, 3, 32, 3, 2),
        _conv("MobileNetV2", "block2 expand 1x1", 112, 16, 96, 1),
        _conv("MobileNetV2", "block3 project 1x1", 56, 144, 24, 1),
        _conv("MobileNetV2", "head 1x1", 7, 320, 1280, 1),
        _conv("EfficientNet-B0", "block4 squeeze-excite reduce", 1, 240, 10, 1),
        _conv("EfficientNet-B0", "block4 squeeze-excite expand", 1, 10, 240, 1),
        _conv("U-Net (segmentation_models, decoder channels 16)", "decoder block5 3x3", 224, 32,
              16, 3),
        _conv("YOLOv3 (608x800 input)", "detection head 1x1", (19, 25), 1024, 255, 1),
    ),
    "depthwise": (
        _dw("MobileNetV2", "block1 3x3", 112, 32, 3),
        _dw("MobileNetV2", "block2 3x3/2", 112, 96, 3, 2),
        _dw("MobileNetV2", "block3 3x3", 56, 144, 3),
        _dw("MobileNetV2", "block5 3x3", 28, 192, 3),
        _dw("MobileNetV2", "block8 3x3", 14, 384, 3),
        _dw("MobileNetV2", "block14 3x3/2", 14, 576, 3, 2),
        _dw("MobileNetV2", "block17 3x3", 7, 960, 3),
        _dw("EfficientNet-B0", "block3 5x5/2", 56, 144, 5, 2),
        _dw("EfficientNet-B0", "block4 5x5", 28, 240, 5),
        _dw("EfficientNet-B0", "block5 3x3/2", 28, 240, 3, 2),
        _dw("EfficientNet-B0", "block9 5x5", 14, 672, 5),
        _dw("EfficientNet-B0", "block12 5x5/2", 14, 672, 5, 2),
        _dw("EfficientNet-B0", "block14 5x5", 7, 1152, 5),
        _dw("MobileNetV1", "dw2 3x3/2", 112, 64, 3, 2),
        _dw("MobileNetV2 (480x640 detection input)", "block3 3x3", (120, 160), 144, 3),
    ),
    "separable": (
        _separable("Xception", "entry flow block2 sepconv", 147, 64, 128),
        _separable("Xception", "middle flow sepconv", 19, 728, 728),
        _separable("Xception", "exit flow sepconv", 10, 1024, 1536),
        _separable("DeepLabv3+ Xception", "ASPP sepconv rate 6", 14, 2048, 256, d=6),
        _separable("DeepLabv3+ Xception", "decoder sepconv", 56, 304, 256),
        _separable("MobileNetV1", "block1 dw+pw", 112, 32, 64),
        _separable("MobileNetV1", "block2 dw+pw /2", 112, 64, 128, s=2),
        _separable("MobileNetV1", "block12 dw+pw", 7, 1024, 1024),
    ),
    "transpose_tf": (
        _transpose_tf("TF DCGAN tutorial", "5x5/1 7x7x256", 7, 256, 128, 5, 1),
        _transpose_tf("TF DCGAN tutorial", "5x5/2 7x7x128", 7, 128, 64, 5, 2),
        _transpose_tf("TF DCGAN tutorial", "5x5/2 14x14x64", 14, 64, 1, 5, 2),
        _transpose_tf("U-Net", "up1 2x2/2", 16, 1024, 512, 2, 2),
        _transpose_tf("U-Net", "up3 2x2/2", 64, 256, 128, 2, 2),
        _transpose_tf("U-Net", "up4 2x2/2", 128, 128, 64, 2, 2),
        _transpose_tf("FCN-8s", "upscore2 4x4/2", 7, 21, 21, 4, 2, "valid"),
        _transpose_tf("FCN-8s", "upscore8 16x16/8", 28, 21, 21, 16, 8, "valid"),
    ),
    "transpose_torch": (
        _transpose_torch("DCGAN", "project 4x4", 1, 100, 512, 4, 1, 0),
        _transpose_torch("DCGAN", "4x4/2 4x4x512", 4, 512, 256, 4, 2, 1),
        _transpose_torch("DCGAN", "4x4/2 16x16x128", 16, 128, 64, 4, 2, 1),
        _transpose_torch("DCGAN", "4x4/2 32x32x64", 32, 64, 3, 4, 2, 1),
        _transpose_torch("U-Net (PyTorch)", "up1 2x2/2", 16, 1024, 512, 2, 2, 0),
        _transpose_torch("LinkNet", "decoder4 3x3/2 output_padding 1", 7, 128, 128, 3, 2, 1, 1),
        _transpose_torch("LinkNet", "decoder1 3x3/2 output_padding 1", 56, 16, 16, 3, 2, 1, 1),
    ),
    "pool": (
        _pool("ResNet-50", "maxpool 3x3/2", 112, 64, 3, 2),
        _pool("VGG-16", "pool1 2x2/2", 224, 64, 2, 2),
        _pool("VGG-16", "pool5 2x2/2", 14, 512, 2, 2),
        _pool("GoogLeNet", "pool2 3x3/2", 56, 192, 3, 2),
        _pool("GoogLeNet", "inception pool branch 3x3/1", 28, 256, 3, 1),
        _pool("Inception-v3", "mixed pool branch 3x3/1", 35, 192, 3, 1),
        _pool("Inception-v3", "mixed_6 pool branch 3x3/1", 17, 768, 3, 1),
        _pool("DenseNet-121", "transition1 2x2/2", 56, 128, 2, 2),
        _pool("ResNet-50-D", "downsample 2x2/2", 56, 256, 2, 2),
        _pool("EfficientNet-B0", "global 7x7", 7, 1280, 7, 7),
        _pool("YOLOv4", "SPP 5x5/1", 19, 512, 5, 1),
        _pool("YOLOv4", "SPP 13x13/1", 19, 512, 13, 1),
    ),
    "norm": (
        _norm("ResNet-50", "bn1", 112, 64, keras_axis=-1),
        _norm("ResNet-50", "layer1 bn3", 56, 256, keras_axis=-1),
        _norm("ResNet-50", "layer2 bn3", 28, 512, keras_axis=-1),
        _norm("ResNet-50", "layer3 bn3", 14, 1024, keras_axis=-1),
        _norm("ResNet-50", "layer4 bn3", 7, 2048, keras_axis=-1),
        _norm("MobileNetV2", "stem bn", 112, 32, keras_axis=-1),
        _norm("EfficientNet-B0", "block3 bn", 56, 144, keras_axis=-1),
    ),
    "group_norm": (
        _norm("ResNet-50-GN", "layer1 gn (32 groups)", 56, 256, groups=32),
        _norm("ResNet-50-GN", "layer2 gn (32 groups)", 28, 512, groups=32),
        _norm("ResNet-50-GN", "layer4 gn (32 groups)", 7, 2048, groups=32),
        _norm("Mask R-CNN GN head", "4conv gn (32 groups)", 14, 256, groups=32),
        _norm("Stable Diffusion U-Net", "down1 gn (32 groups)", 64, 320, groups=32),
    ),
    "conv1d": (
        _conv("Jasper 10x5", "prologue k11/2", 800, 64, 256, 11, 2, rank=1),
        _conv("Jasper 10x5", "block1 k11", 400, 256, 256, 11, rank=1),
        _conv("QuartzNet 5x5", "block1 pointwise", 400, 256, 256, 1, rank=1),
    ),
    "causal": (
        _conv("WaveNet", "dilated k2 dilation 1", 16000, 32, 64, 2, rank=1),
        _conv("WaveNet", "dilated k2 dilation 64", 16000, 32, 64, 2, d=64, rank=1),
        _conv("WaveNet", "dilated k2 dilation 512", 16000, 32, 64, 2, d=512, rank=1),
        _conv("TCN (sequential MNIST)", "k7 dilation 8", 784, 25, 25, 7, d=8, rank=1),
        _conv("TCN (sequential MNIST)", "k7 dilation 128", 784, 25, 25, 7, d=128, rank=1),
    ),
}


def affordable(kind: str, dtype: str) -> tuple[Layer, ...]:
    """The layers of ``kind`` whose one sample fits ``CAP[dtype]``."""
    return tuple(layer for layer in LAYERS[kind] if layer.cost(kind) <= CAP[dtype])


def shaped_like(kind: str, base):
    """A strategy factory ``f(dtypes)``: ``base(dtypes)``'s configs with the geometry of a
    layer of ``kind`` and a batch of 1..8 (capped by ``CAP``)."""
    def strategy(dtypes):
        return _shaped(kind, base, tuple(dtypes))
    strategy.kind = kind  # for the docs (``parity.spec.op_docs``)
    return strategy


@st.composite
def _shaped(draw, kind: str, base, dtypes):
    config = draw(base(dtypes))
    dtype = getattr(config, "dtype", "float32")
    layers = affordable(kind, dtype)
    assume(layers)
    layer = draw(st.sampled_from(layers))
    batch = min(draw(st.integers(1, MAX_BATCH)), max(1, int(CAP[dtype] // layer.cost(kind))))
    return dataclasses.replace(config, batch=batch, **layer.fields)


def describe(layer: Layer) -> str:
    """The layer's geometry in a few words (the docs' table).

    >>> describe(LAYERS["pool"][0])
    '112x112x64, window 3x3, stride 2'
    """
    f = layer.fields
    channels = f.get("channels") or f"{f['in_channels']}->{f['out_channels']}"
    words = ["x".join(map(str, f["spatial"])) + f"x{channels}"]
    for name in ("kernel", "window"):
        if name in f:
            words.append(f"{name} {'x'.join(map(str, f[name]))}")
    for name in ("stride", "dilation"):
        if name in f and max(f[name]) > 1:
            words.append(f"{name} {f[name][0]}")
    if f.get("groups", 1) > 1 and "window" not in f:
        words.append(f"groups {f['groups']}")
    if f.get("torch_padding"):
        words.append(f"padding {f['torch_padding'][0]}")
    if f.get("output_padding"):
        words.append(f"output_padding {f['output_padding'][0]}")
    if f.get("convention") == "tf":
        words.append(f"padding {f['padding']}")
    return ", ".join(words)


def layer_of(kind: str, config) -> Layer | None:
    """The catalogue layer a config was shaped like (None: not one of them)."""
    for layer in LAYERS[kind]:
        if all(getattr(config, k) == v for k, v in layer.fields.items()):
            return layer
    return None
