"""Model pairs written the way other libraries write them, not by parity: Keras models in the
style of ``keras.applications`` (ResNet v1 with ``conv1_pad``/``_0_conv`` shortcuts,
MobileNetV2 with ``ZeroPadding2D`` before its stride-2 depthwise convs) at small sizes, and
torch ports in the style of torchvision (``Bottleneck`` running ``downsample`` after
``conv3``/``bn3`` and adding in place, ``Conv2dNormActivation`` with ``ReLU6(inplace=True)``,
``x + self.conv(x)`` in ``forward``), plain ``torch.nn`` (torchvision itself does not load
here), each correct and with the mistakes ports typically make:

- ``symmetric``: torchvision's ``padding=k//2`` for TF's SAME at stride 2 (TF pads the end);
- ``bn-defaults``: ``BatchNorm2d`` with torch's eps 1e-5 where Keras uses 1e-3;
- ``no-bias``: ``bias=False`` convs (torchvision's) where Keras's ResNet50 convs have biases;
- ``v1.5``: the stride on the 3x3 conv (torchvision's ResNet v1.5) where Keras's ResNet50 (v1)
  puts it on the first 1x1 conv.

The pads come three ways: inside the conv (``padding=3``), an ``nn.ZeroPad2d`` module, and
``F.pad`` in ``forward``.
"""
from __future__ import annotations

RESNET_INPUT = (32, 32, 3)
RESNET50 = {"stages": ((64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)), "stem": 64,
            "input_shape": (224, 224, 3)}
"""ResNet-50's own sizes (``keras_resnet(**RESNET50)``, ``torchvision_resnet(**RESNET50)``)."""
MOBILENET_INPUT = (32, 32, 3)
MISTAKES = {"resnet": ("no-bias", "v1.5", "bn-defaults"),
            "mobilenet": ("symmetric", "bn-defaults")}


# ------------------------------------------------------------------ ResNet v1 (Keras style)
def keras_resnet(stages=((8, 2, 1), (16, 2, 2)), stem: int = 16, input_shape=RESNET_INPUT):
    """keras.applications.ResNet50's layout and names, at a small size by default: (filters,
    blocks, stride) per stage, conv2 first."""
    from parity.backends import tf as B

    keras = B.keras()
    L = keras.layers
    eps = 1.001e-5

    def block(x, filters, stride, shortcut, name):
        if shortcut:
            s = L.Conv2D(4 * filters, 1, strides=stride, name=name + "_0_conv")(x)
            s = L.BatchNormalization(epsilon=eps, name=name + "_0_bn")(s)
        else:
            s = x
        x = L.Conv2D(filters, 1, strides=stride, name=name + "_1_conv")(x)
        x = L.BatchNormalization(epsilon=eps, name=name + "_1_bn")(x)
        x = L.Activation("relu", name=name + "_1_relu")(x)
        x = L.Conv2D(filters, 3, padding="same", name=name + "_2_conv")(x)
        x = L.BatchNormalization(epsilon=eps, name=name + "_2_bn")(x)
        x = L.Activation("relu", name=name + "_2_relu")(x)
        x = L.Conv2D(4 * filters, 1, name=name + "_3_conv")(x)
        x = L.BatchNormalization(epsilon=eps, name=name + "_3_bn")(x)
        x = L.Add(name=name + "_add")([s, x])
        return L.Activation("relu", name=name + "_out")(x)

    inp = keras.Input(input_shape)
    x = L.ZeroPadding2D(3, name="conv1_pad")(inp)
    x = L.Conv2D(stem, 7, strides=2, name="conv1_conv")(x)
    x = L.BatchNormalization(epsilon=eps, name="conv1_bn")(x)
    x = L.Activation("relu", name="conv1_relu")(x)
    x = L.ZeroPadding2D(1, name="pool1_pad")(x)
    x = L.MaxPooling2D(3, strides=2, name="pool1_pool")(x)
    for s, (filters, blocks, stride) in enumerate(stages):
        name = f"conv{s + 2}"
        x = block(x, filters, stride, True, f"{name}_block1")
        for b in range(2, blocks + 1):
            x = block(x, filters, 1, False, f"{name}_block{b}")
    x = L.GlobalAveragePooling2D(name="avg_pool")(x)
    return keras.Model(inp, L.Dense(10, name="predictions")(x), name="resnet_small")


def torchvision_resnet(stages=((8, 2, 1), (16, 2, 2)), mistake: str | None = None,
                       stem: int = 16, input_shape=None):
    """torchvision's ResNet/Bottleneck code, ported to the Keras model above: v1 strides, conv
    biases and Keras's BN epsilon, unless ``mistake`` puts back torchvision's choice
    (``"no-residual"``: the identity blocks forget ``out += identity``)."""
    import torch.nn as nn

    bias = mistake != "no-bias"
    eps = 1e-5 if mistake == "bn-defaults" else 1.001e-5

    def norm(c):
        return nn.BatchNorm2d(c, eps=eps, momentum=0.01)

    class Bottleneck(nn.Module):
        expansion = 4

        def __init__(self, inplanes, planes, stride=1, downsample=None):
            super().__init__()
            s1, s3 = (1, stride) if mistake == "v1.5" else (stride, 1)
            self.conv1 = nn.Conv2d(inplanes, planes, 1, stride=s1, bias=bias)
            self.bn1 = norm(planes)
            self.conv2 = nn.Conv2d(planes, planes, 3, stride=s3, padding=1, bias=bias)
            self.bn2 = norm(planes)
            self.conv3 = nn.Conv2d(planes, planes * 4, 1, bias=bias)
            self.bn3 = norm(planes * 4)
            self.relu = nn.ReLU(inplace=True)
            self.downsample = downsample

        def forward(self, x):
            identity = x
            out = self.relu(self.bn1(self.conv1(x)))
            out = self.relu(self.bn2(self.conv2(out)))
            out = self.bn3(self.conv3(out))
            if self.downsample is not None:
                identity = self.downsample(x)
            if self.downsample is not None or mistake != "no-residual":
                out += identity   # "no-residual": an identity block without its shortcut
            return self.relu(out)

    class ResNet(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(3, stem, 7, stride=2, padding=3, bias=bias)
            self.bn1 = norm(stem)
            self.relu = nn.ReLU(inplace=True)
            self.maxpool = nn.MaxPool2d(3, stride=2, padding=1)
            inplanes, layers = stem, []
            for planes, blocks, stride in stages:
                down = nn.Sequential(nn.Conv2d(inplanes, planes * 4, 1, stride=stride, bias=bias),
                                     norm(planes * 4))
                seq = [Bottleneck(inplanes, planes, stride, down)]
                inplanes = planes * 4
                seq += [Bottleneck(inplanes, planes) for _ in range(1, blocks)]
                layers.append(nn.Sequential(*seq))
            for i, layer in enumerate(layers):
                setattr(self, f"layer{i + 1}", layer)
            self.stages = len(layers)
            self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
            self.fc = nn.Linear(inplanes, 10)

        def forward(self, x):
            x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
            for i in range(self.stages):
                x = getattr(self, f"layer{i + 1}")(x)
            return self.fc(torch_flatten(self.avgpool(x)))

    return ResNet()


def torch_flatten(x):
    import torch

    return torch.flatten(x, 1)


# ------------------------------------------------------------------ MobileNetV2 (Keras style)
BLOCKS = ((1, 8, 1), (6, 12, 2), (6, 12, 1))   # (expansion, output channels, stride)


def keras_mobilenet_v2():
    """keras.applications.MobileNetV2's layout and names at a small size."""
    from parity.backends import tf as B

    keras = B.keras()
    L = keras.layers

    def bn(name):
        return L.BatchNormalization(epsilon=1e-3, momentum=0.999, name=name)

    inp = keras.Input(MOBILENET_INPUT)
    x = L.Conv2D(8, 3, strides=2, padding="same", use_bias=False, name="Conv1")(inp)
    x = bn("bn_Conv1")(x)
    x = L.ReLU(6.0, name="Conv1_relu")(x)
    cin = 8
    for i, (t, c, s) in enumerate(BLOCKS):
        prefix = f"block_{i}_" if i else "expanded_conv_"
        h = x
        if t != 1:
            h = L.Conv2D(cin * t, 1, use_bias=False, name=prefix + "expand")(h)
            h = bn(prefix + "expand_BN")(h)
            h = L.ReLU(6.0, name=prefix + "expand_relu")(h)
        if s == 2:
            h = L.ZeroPadding2D(((0, 1), (0, 1)), name=prefix + "pad")(h)
        h = L.DepthwiseConv2D(3, strides=s, padding="same" if s == 1 else "valid",
                              use_bias=False, name=prefix + "depthwise")(h)
        h = bn(prefix + "depthwise_BN")(h)
        h = L.ReLU(6.0, name=prefix + "depthwise_relu")(h)
        h = L.Conv2D(c, 1, use_bias=False, name=prefix + "project")(h)
        h = bn(prefix + "project_BN")(h)
        x = L.Add(name=prefix + "add")([x, h]) if s == 1 and cin == c else h
        cin = c
    x = L.Conv2D(32, 1, use_bias=False, name="Conv_1")(x)
    x = bn("Conv_1_bn")(x)
    x = L.ReLU(6.0, name="out_relu")(x)
    x = L.GlobalAveragePooling2D(name="global_average_pooling2d")(x)
    return keras.Model(inp, L.Dense(10, name="predictions")(x), name="mobilenetv2_small")


def torchvision_mobilenet_v2(mistake: str | None = None):
    """torchvision's MobileNetV2 code (``Conv2dNormActivation``, ``InvertedResidual``, in-place
    ReLU6) ported to the Keras model above: TF's SAME at stride 2 pads the end, with ``F.pad``
    before the first conv and ``nn.ZeroPad2d`` in the blocks, unless ``mistake``."""
    import torch.nn as nn
    import torch.nn.functional as F

    eps = 1e-5 if mistake == "bn-defaults" else 1e-3
    symmetric = mistake == "symmetric"

    def cna(cin, cout, k=3, stride=1, groups=1, act=True):
        pad = (k - 1) // 2 if stride == 1 or symmetric else 0
        layers = [] if pad or k == 1 or stride == 1 else [nn.ZeroPad2d((0, 1, 0, 1))]
        layers += [nn.Conv2d(cin, cout, k, stride, pad, groups=groups, bias=False),
                   nn.BatchNorm2d(cout, eps=eps, momentum=0.001)]
        if act:
            layers.append(nn.ReLU6(inplace=True))
        return nn.Sequential(*layers)

    class InvertedResidual(nn.Module):
        def __init__(self, inp, oup, stride, expand_ratio):
            super().__init__()
            hidden = inp * expand_ratio
            self.use_res_connect = stride == 1 and inp == oup
            layers = [cna(inp, hidden, k=1)] if expand_ratio != 1 else []
            layers += [cna(hidden, hidden, stride=stride, groups=hidden),
                       nn.Conv2d(hidden, oup, 1, bias=False),
                       nn.BatchNorm2d(oup, eps=eps, momentum=0.001)]
            self.conv = nn.Sequential(*layers)

        def forward(self, x):
            if self.use_res_connect:
                return x + self.conv(x)
            return self.conv(x)

    class MobileNetV2(nn.Module):
        def __init__(self):
            super().__init__()
            first = cna(3, 8, stride=2)
            if not symmetric:   # the first conv pads in forward, as F.pad
                first = nn.Sequential(*[m for m in first if not isinstance(m, nn.ZeroPad2d)])
            blocks, cin = [first], 8
            for t, c, s in BLOCKS:
                blocks.append(InvertedResidual(cin, c, s, t))
                cin = c
            blocks.append(cna(cin, 32, k=1))
            self.features = nn.Sequential(*blocks)
            self.pool = nn.AdaptiveAvgPool2d(1)
            self.classifier = nn.Linear(32, 10)
            self.symmetric = symmetric

        def forward(self, x):
            if not self.symmetric:
                x = F.pad(x, (0, 1, 0, 1))
            x = self.features(x)
            return self.classifier(torch_flatten(self.pool(x)))

    return MobileNetV2()


# ------------------------------------------------------------------ EfficientNet block (timm)
def keras_efficientnet_block():
    """A keras.applications.EfficientNet-style stem and MBConv block with squeeze-excite
    (GlobalAveragePooling2D, Reshape, reduce/expand convs with swish and sigmoid, multiply)."""
    from parity.backends import tf as B

    keras = B.keras()
    L = keras.layers
    inp = keras.Input((16, 16, 3))
    x = L.Conv2D(8, 3, strides=2, padding="same", use_bias=False, name="stem_conv")(inp)
    x = L.BatchNormalization(name="stem_bn")(x)
    x = L.Activation("swish", name="stem_activation")(x)
    x = L.DepthwiseConv2D(3, padding="same", use_bias=False, name="block1a_dwconv")(x)
    x = L.BatchNormalization(name="block1a_bn")(x)
    x = L.Activation("swish", name="block1a_activation")(x)
    se = L.GlobalAveragePooling2D(name="block1a_se_squeeze")(x)
    se = L.Reshape((1, 1, 8), name="block1a_se_reshape")(se)
    se = L.Conv2D(2, 1, padding="same", activation="swish", name="block1a_se_reduce")(se)
    se = L.Conv2D(8, 1, padding="same", activation="sigmoid", name="block1a_se_expand")(se)
    x = L.multiply([x, se], name="block1a_se_excite")
    x = L.Conv2D(8, 1, use_bias=False, name="block1a_project_conv")(x)
    x = L.BatchNormalization(name="block1a_project_bn")(x)
    x = L.GlobalAveragePooling2D(name="avg_pool")(x)
    return keras.Model(inp, L.Dense(5, name="predictions")(x), name="efficientnet_block")


def timm_efficientnet_block(mistake: str | None = None):
    """timm's code for the same: ``Conv2dSame`` (the padding computed in forward and applied
    with ``F.pad``), ``BatchNormAct2d``-style BN + SiLU, ``SqueezeExcite`` with
    ``x.mean((2, 3), keepdim=True)`` and ``x * self.gate(x_se)``. ``mistake="se-no-gate"`` drops
    the sigmoid gate (a port that multiplies by the raw expand output)."""
    import math

    import torch.nn as nn
    import torch.nn.functional as F

    class Conv2dSame(nn.Conv2d):
        def forward(self, x):
            ih, iw = x.shape[-2:]
            kh, kw = self.weight.shape[-2:]
            pads = [max((math.ceil(i / s) - 1) * s + (k - 1) * d + 1 - i, 0) for i, k, s, d in
                    ((ih, kh, self.stride[0], self.dilation[0]),
                     (iw, kw, self.stride[1], self.dilation[1]))]
            x = F.pad(x, [pads[1] // 2, pads[1] - pads[1] // 2, pads[0] // 2,
                          pads[0] - pads[0] // 2])
            return F.conv2d(x, self.weight, self.bias, self.stride, 0, self.dilation,
                            self.groups)

    class SqueezeExcite(nn.Module):
        def __init__(self, chs, rd):
            super().__init__()
            self.conv_reduce = nn.Conv2d(chs, rd, 1)
            self.act1 = nn.SiLU(inplace=True)
            self.conv_expand = nn.Conv2d(rd, chs, 1)
            self.gate = nn.Identity() if mistake == "se-no-gate" else nn.Sigmoid()

        def forward(self, x):
            x_se = x.mean((2, 3), keepdim=True)
            x_se = self.act1(self.conv_reduce(x_se))
            x_se = self.conv_expand(x_se)
            return x * self.gate(x_se)

    def bn(c):
        return nn.BatchNorm2d(c, eps=1e-3, momentum=0.01)

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv_stem = Conv2dSame(3, 8, 3, stride=2, bias=False)
            self.bn1, self.act1 = bn(8), nn.SiLU(inplace=True)
            self.conv_dw = Conv2dSame(8, 8, 3, groups=8, bias=False)
            self.bn2, self.act2 = bn(8), nn.SiLU(inplace=True)
            self.se = SqueezeExcite(8, 2)
            self.conv_pwl = nn.Conv2d(8, 8, 1, bias=False)
            self.bn3 = bn(8)
            self.classifier = nn.Linear(8, 5)

        def forward(self, x):
            x = self.act1(self.bn1(self.conv_stem(x)))
            x = self.se(self.act2(self.bn2(self.conv_dw(x))))
            x = self.bn3(self.conv_pwl(x))
            return self.classifier(x.mean((2, 3)))

    return Net()
