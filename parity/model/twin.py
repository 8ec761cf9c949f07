"""A torch twin of a Keras model, built from ``parity.ports``: every supported layer becomes the
torch module with Keras's semantics, run in the Keras graph's order. It is what a correct port
looks like, and ``compare`` against it checks the ports on whole models at real sizes.

Supported: Conv1D/2D/3D, DepthwiseConv2D, Conv2DTranspose, Dense, BatchNormalization (channels;
``KerasBatchNorm``, so the twin trains as Keras does),
ReLU/Activation, ZeroPadding2D, MaxPooling2D/AveragePooling2D, GlobalAveragePooling2D, Add,
Multiply, Concatenate, Reshape (to (1, 1, C)), Flatten, Dropout, Rescaling, Normalization.
"""
from __future__ import annotations

import math

from parity.model.errors import ModelError
from parity.model.kinds import keras_activation
from parity.model.mapping import fused_activation


def _activation(name: str | None):
    import torch.nn as nn

    table = {"relu": nn.ReLU, "relu6": nn.ReLU6, "silu": nn.SiLU, "swish": nn.SiLU,
             "sigmoid": nn.Sigmoid, "tanh": nn.Tanh, "gelu": nn.GELU,
             "softmax": lambda: nn.Softmax(dim=1), "linear": nn.Identity}
    if name not in table:
        raise ModelError(f"no torch twin for activation {name!r}")
    return table[name]()


def _module(layer, kgraph):
    import torch
    import torch.nn as nn

    from parity import ports
    from parity.ports.pool import AvgPool2dSame, MaxPool2dSame
    from parity.ports.transpose import ConvTranspose2dSame

    name, cls = layer.name, type(layer).__name__
    in_shape = tuple(layer.input.shape[1:]) if not isinstance(layer.input, list) else None
    if cls in ("Conv1D", "Conv2D", "Conv3D"):
        rank = int(cls[4])
        cin, cout = in_shape[-1], layer.filters
        if layer.padding == "same":
            conv = getattr(ports, f"Conv{rank}dSame")(cin, cout, layer.kernel_size,
                                                      stride=layer.strides,
                                                      dilation=layer.dilation_rate,
                                                      groups=layer.groups, bias=layer.use_bias)
        else:
            conv = getattr(nn, f"Conv{rank}d")(cin, cout, layer.kernel_size, stride=layer.strides,
                                                dilation=layer.dilation_rate, groups=layer.groups,
                                                bias=layer.use_bias)
        return _with_activation(conv, layer)
    if cls == "DepthwiseConv2D":
        c = in_shape[-1]
        if layer.padding == "same":
            conv = ports.DepthwiseConv2dSame(c, layer.kernel_size, layer.depth_multiplier,
                                             stride=layer.strides, dilation=layer.dilation_rate,
                                             bias=layer.use_bias)
        else:
            conv = nn.Conv2d(c, c * layer.depth_multiplier, layer.kernel_size,
                             stride=layer.strides, dilation=layer.dilation_rate, groups=c,
                             bias=layer.use_bias)
        return _with_activation(conv, layer)
    if cls == "Conv2DTranspose":
        conv = ConvTranspose2dSame(in_shape[-1], layer.filters, layer.kernel_size,
                                   stride=layer.strides, padding=layer.padding,
                                   output_padding=layer.output_padding,
                                   dilation=layer.dilation_rate, bias=layer.use_bias)
        return _with_activation(conv, layer)
    if cls == "Dense":
        return _with_activation(nn.Linear(in_shape[-1], layer.units, bias=layer.use_bias), layer)
    if cls == "BatchNormalization":
        if layer.axis not in (-1, len(in_shape)) and layer.axis != [len(in_shape)]:
            raise ModelError(f"no torch twin for {name}: BatchNormalization(axis={layer.axis})")
        from parity.ports import KerasBatchNorm   # Keras's semantics in training too

        return KerasBatchNorm(in_shape[-1], dim=1, momentum=layer.momentum,
                              epsilon=layer.epsilon)
    if cls in ("ReLU", "Activation", "Softmax", "ELU", "LeakyReLU"):
        return _activation(keras_activation(layer))
    if cls == "ZeroPadding2D":
        (t, b), (lft, r) = layer.padding
        return nn.ZeroPad2d((lft, r, t, b))
    if cls in ("MaxPooling2D", "AveragePooling2D"):
        if layer.padding == "same":
            return (MaxPool2dSame if cls[0] == "M" else AvgPool2dSame)(layer.pool_size,
                                                                        layer.strides)
        return getattr(nn, "MaxPool2d" if cls[0] == "M" else "AvgPool2d")(layer.pool_size,
                                                                          layer.strides)
    if cls == "GlobalAveragePooling2D":
        return _classes()["KerasGlobalAvgPool"](layer.keepdims)
    if cls in ("Dropout", "SpatialDropout2D"):
        return nn.Dropout(layer.rate)
    if cls == "Flatten":
        return _classes()["KerasFlatten"]()
    if cls == "Reshape":
        return _classes()["KerasReshape"](tuple(layer.target_shape))
    if cls in ("Add", "Multiply", "Concatenate"):
        return _classes()["KerasMerge"](cls)
    if cls == "Rescaling":
        return _classes()["KerasAffine"](torch.as_tensor(layer.scale, dtype=torch.float32),
                       torch.as_tensor(layer.offset, dtype=torch.float32))
    if cls == "Normalization":
        mean, var = (torch.as_tensor(w.numpy()).reshape(-1) for w in layer.weights[:2])
        return _classes()["KerasAffine"](1 / torch.sqrt(torch.clamp(var, min=1e-7)), -mean / torch.sqrt(
            torch.clamp(var, min=1e-7)))
    raise ModelError(f"no torch twin for Keras layer {name!r} ({cls})")


def _with_activation(module, layer):
    import torch.nn as nn

    act = fused_activation(layer)
    return module if act is None else nn.Sequential(module, _activation(act))


_CLASSES = {}


def _classes() -> dict:
    """Module classes, defined on first use (torch is imported lazily)."""
    if _CLASSES:
        return _CLASSES
    import torch
    import torch.nn as nn

    class KerasFlatten(nn.Module):
        """Keras's Flatten on channels-first input: flatten in (h, w, c) order."""

        def forward(self, x):
            return x.permute(0, *range(2, x.dim()), 1).flatten(1) if x.dim() > 2 else x

    class KerasReshape(nn.Module):
        """Keras's Reshape to (1, ..., C): channels first (the squeeze-excite reshape)."""

        def __init__(self, target):
            super().__init__()
            self.target = target

        def forward(self, x):
            if all(t == 1 for t in self.target[:-1]):
                return x.reshape(x.shape[0], self.target[-1], *self.target[:-1])
            raise RuntimeError(f"no channels-first meaning for Reshape{self.target}")

    class KerasGlobalAvgPool(nn.Module):
        def __init__(self, keepdims):
            super().__init__()
            self.keepdims = keepdims

        def forward(self, x):
            return x.mean(dim=tuple(range(2, x.dim())), keepdim=self.keepdims)

    class KerasMerge(nn.Module):
        def __init__(self, how):
            super().__init__()
            self.how = how

        def forward(self, *xs):
            if self.how == "Add":
                return sum(xs[1:], xs[0])
            if self.how == "Multiply":
                return math.prod(xs[1:], start=xs[0])
            return torch.cat(xs, dim=1)

    class KerasAffine(nn.Module):
        """x * scale + offset per channel (Rescaling, Normalization)."""

        def __init__(self, scale, offset):
            super().__init__()
            self.register_buffer("scale", scale.reshape(-1) if scale.dim() else scale)
            self.register_buffer("offset", offset.reshape(-1) if offset.dim() else offset)

        def forward(self, x):
            view = [1, -1] + [1] * (x.dim() - 2)
            s = self.scale.view(view) if self.scale.dim() else self.scale
            o = self.offset.view(view) if self.offset.dim() else self.offset
            return x * s + o

    class KerasTwin(nn.Module):
        def __init__(self, order, sources, modules, input_name, output):
            super().__init__()
            self.order, self.sources = order, sources
            self.input_name, self.output = input_name, output
            self.layers = nn.ModuleDict(modules)

        def forward(self, x):
            values = {self.input_name: x}
            for name in self.order:
                values[name] = self.layers[name](*[values[s] for s in self.sources[name]])
            return values[self.output]

    _CLASSES.update({c.__name__: c for c in (KerasFlatten, KerasReshape, KerasGlobalAvgPool,
                                            KerasMerge, KerasAffine, KerasTwin)})
    return _CLASSES


def torch_twin(keras_model):
    """A torch module computing what ``keras_model`` computes (channels-first activations)."""
    from parity.model.keras_graph import KerasGraph

    kg = KerasGraph(keras_model)
    modules = {layer.name: _module(layer, kg) for layer in kg.layers}
    return _classes()["KerasTwin"]([layer.name for layer in kg.layers], kg.inputs_of, modules, kg.input_name,
                kg.layers[-1].name)


def keras_preprocessing(keras_model, torch_module):
    """``torch_module`` behind the Keras model's leading Rescaling/Normalization layers (a port
    that expects normalized input, e.g. efficientnet-pytorch)."""
    import torch.nn as nn

    from parity.model.keras_graph import KerasGraph

    kg = KerasGraph(keras_model)
    pre = []
    for layer in kg.layers:
        if kg.kind(layer.name) != "preprocess":
            break
        pre.append((layer.name, _module(layer, kg)))
    return nn.Sequential(*[m for _, m in pre], torch_module)
