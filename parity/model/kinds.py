"""What kind of layer a Keras layer or a torch module is, for mapping one onto the other.

Kinds with weights (``conv``, ``depthwise``, ``separable``, ``transpose``, ``dense``,
``batchnorm``, ``layernorm``, ``groupnorm``) must be mapped; the others (activations, pooling,
padding, dropout, merges, layout changes) are compared where both sides have one and skipped
where one side computes them without a layer or module (``F.relu``, ``x + y``).
"""
from __future__ import annotations

WEIGHTED = ("conv", "depthwise", "separable", "transpose", "dense", "batchnorm", "layernorm",
            "groupnorm")

_KERAS = {
    "Conv1D": "conv", "Conv2D": "conv", "Conv3D": "conv",
    "DepthwiseConv1D": "depthwise", "DepthwiseConv2D": "depthwise",
    "SeparableConv1D": "separable", "SeparableConv2D": "separable",
    "Conv1DTranspose": "transpose", "Conv2DTranspose": "transpose", "Conv3DTranspose": "transpose",
    "Dense": "dense", "BatchNormalization": "batchnorm", "LayerNormalization": "layernorm",
    "GroupNormalization": "groupnorm",
    "MaxPooling1D": "maxpool", "MaxPooling2D": "maxpool", "MaxPooling3D": "maxpool",
    "AveragePooling1D": "avgpool", "AveragePooling2D": "avgpool", "AveragePooling3D": "avgpool",
    "GlobalAveragePooling1D": "gap", "GlobalAveragePooling2D": "gap",
    "GlobalAveragePooling3D": "gap",
    "ReLU": "activation", "Activation": "activation", "LeakyReLU": "activation",
    "ELU": "activation", "Softmax": "activation",
    "Dropout": "dropout", "SpatialDropout1D": "dropout", "SpatialDropout2D": "dropout",
    "SpatialDropout3D": "dropout",
    "ZeroPadding1D": "pad", "ZeroPadding2D": "pad", "ZeroPadding3D": "pad",
    "Cropping1D": "crop", "Cropping2D": "crop", "Cropping3D": "crop",
    "Flatten": "layout", "Reshape": "layout", "Permute": "layout",
    "Add": "merge", "Multiply": "merge", "Concatenate": "merge", "Subtract": "merge",
    "Average": "merge", "Maximum": "merge", "Minimum": "merge",
    "Rescaling": "preprocess", "Normalization": "preprocess",
    "InputLayer": "input",
}

_TORCH = [  # (class name, kind), most specific first; matched along the class's MRO
    ("KerasBatchNorm", "batchnorm"),
    ("Conv1d", "conv"), ("Conv2d", "conv"), ("Conv3d", "conv"),
    ("ConvTranspose1d", "transpose"), ("ConvTranspose2d", "transpose"),
    ("ConvTranspose3d", "transpose"),
    ("Linear", "dense"),
    ("BatchNorm1d", "batchnorm"), ("BatchNorm2d", "batchnorm"), ("BatchNorm3d", "batchnorm"),
    ("LayerNorm", "layernorm"), ("GroupNorm", "groupnorm"),
    ("MaxPool2dSame", "maxpool"), ("AvgPool2dSame", "avgpool"),
    ("MaxPool1d", "maxpool"), ("MaxPool2d", "maxpool"), ("MaxPool3d", "maxpool"),
    ("AvgPool1d", "avgpool"), ("AvgPool2d", "avgpool"), ("AvgPool3d", "avgpool"),
    ("AdaptiveAvgPool1d", "gap"), ("AdaptiveAvgPool2d", "gap"), ("AdaptiveAvgPool3d", "gap"),
    ("ReLU", "activation"), ("ReLU6", "activation"), ("SiLU", "activation"),
    ("Sigmoid", "activation"), ("Tanh", "activation"), ("GELU", "activation"),
    ("Softmax", "activation"), ("LeakyReLU", "activation"), ("ELU", "activation"),
    ("Hardtanh", "activation"), ("Hardswish", "activation"),
    ("Swish", "activation"), ("MemoryEfficientSwish", "activation"),
    ("Dropout", "dropout"), ("Dropout1d", "dropout"), ("Dropout2d", "dropout"),
    ("Dropout3d", "dropout"),
    ("ZeroPad1d", "pad"), ("ZeroPad2d", "pad"), ("ZeroPad3d", "pad"),
    ("ConstantPad1d", "pad"), ("ConstantPad2d", "pad"), ("ConstantPad3d", "pad"),
    ("Flatten", "layout"), ("Unflatten", "layout"), ("Identity", "identity"),
    # parity.model.twin's modules for Keras layers torch has no module for
    ("KerasGlobalAvgPool", "gap"), ("KerasMerge", "merge"), ("KerasAffine", "preprocess"),
    ("KerasFlatten", "layout"), ("KerasReshape", "layout"),
    # onnx2torch's modules for ONNX operators torch has no module for
    ("OnnxGlobalAveragePoolWithKnownInputShape", "gap"), ("OnnxGlobalAveragePool", "gap"),
]
_TORCH_KIND = dict(_TORCH)

_TORCH_ACTIVATION = {"ReLU": "relu", "ReLU6": "relu6", "SiLU": "silu", "Swish": "silu",
                     "MemoryEfficientSwish": "silu", "Sigmoid": "sigmoid", "Tanh": "tanh",
                     "GELU": "gelu", "Softmax": "softmax", "LeakyReLU": "leaky_relu",
                     "ELU": "elu", "Hardswish": "hard_silu"}
_KERAS_ACTIVATION_ALIASES = {"swish": "silu", "hard_swish": "hard_silu"}


def keras_kind(layer) -> str:
    kind = _KERAS.get(type(layer).__name__)
    if kind is None and hasattr(layer, "layers") and hasattr(layer, "inputs"):
        return "model"
    return kind or "other"


def torch_kind(module) -> str | None:
    """The kind of a torch module by its class or a base class; None if none is known."""
    for cls in type(module).__mro__:
        kind = _TORCH_KIND.get(cls.__name__)
        if kind is not None:
            return kind
    return None


def keras_activation(layer) -> str | None:
    """The function a Keras activation layer applies ('relu', 'relu6', 'silu', ...)."""
    name = type(layer).__name__
    if name == "ReLU":
        mv = getattr(layer, "max_value", None)
        neg = getattr(layer, "negative_slope", 0.0)
        if neg:
            return "leaky_relu"
        return "relu6" if mv is not None and float(mv) == 6.0 else ("relu" if mv is None else None)
    if name == "Activation":
        fn = getattr(layer.activation, "__name__", str(layer.activation))
        return _KERAS_ACTIVATION_ALIASES.get(fn, fn)
    return {"LeakyReLU": "leaky_relu", "ELU": "elu", "Softmax": "softmax"}.get(name)


def torch_activation(module) -> str | None:
    for cls in type(module).__mro__:
        if cls.__name__ in _TORCH_ACTIVATION:
            return _TORCH_ACTIVATION[cls.__name__]
        if cls.__name__ == "Hardtanh" and (module.min_val, module.max_val) == (0.0, 6.0):
            return "relu6"
    return None
