"""Model pairs runnable as ``parity model --zoo NAME`` (no downloads: random weights carried
across, see ``parity.model.weights``)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable


@dataclass(frozen=True)
class Entry:
    name: str
    description: str
    build: Callable[[], tuple]       # () -> (keras model, torch module or None for the twin)
    batch: int = 2
    needs: str | None = None         # a module that must be importable (an optional extra)
    convert: Callable | None = None  # (keras model, its weights made) -> torch module
    options: dict = field(default_factory=dict)   # compare()'s defaults for this pair
    own_weights: str | None = None   # the pair's weights come with it (said so), not drawn
    train: dict = field(default_factory=dict)   # the training step's defaults for this pair
    against: str | None = None   # "keras-torch": the Keras model on Keras's torch backend
    torch_optimizer: Callable | None = None   # (optimizer, Keras hyperparameters) -> factory
    """the pair's own torch training code: the optimizer its port builds (else parity's
    translation of Keras's)"""


def _applications(name: str):
    def build():
        from parity.backends import tf as B

        return getattr(B.keras().applications, name)(weights=None, input_shape=(224, 224, 3)), \
            None
    return build


def _twin(which: str):
    def build():
        from parity.model import zoo_twins

        twin = zoo_twins.naive_twin() if which == "naive" else \
            zoo_twins.ports_twin("torch" if which == "torch-batchnorm" else "keras")
        return zoo_twins.keras_cnn(), twin
    return build


def _torch_defaults(optimizer: str, hyper: dict):
    """A hand port's training code: torch's optimizer of the same name, given the learning
    rate and momentum, torch's defaults for the rest (eps 1e-8, RMSprop's alpha 0.99)."""
    import torch

    lr, momentum = hyper["learning_rate"], hyper.get("momentum", 0.0)
    cls = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam, "adamw": torch.optim.AdamW,
           "rmsprop": torch.optim.RMSprop}[optimizer]
    kwargs = {"momentum": momentum} if optimizer in ("sgd", "rmsprop") else {}
    return lambda params: cls(params, lr=lr, **kwargs)


def _keras_only(build):
    """A Keras model alone: the other side is the same model on Keras's torch backend."""
    def only():
        model = build()
        return (model[0] if isinstance(model, tuple) else model), None
    return only


def _avg_pools():
    """AveragePooling2D(3, 2, "same") on a 7x7 map (total padding 2, even) and on the 4x4 map
    after it (total padding 1, odd: the torch backend pads with copies of the edge)."""
    from parity.backends import tf as B

    keras = B.keras()
    L = keras.layers
    inp = keras.Input((7, 7, 3))
    h = L.Conv2D(4, 3, padding="same", name="conv")(inp)
    h = L.AveragePooling2D(3, 2, padding="same", name="pool_even")(h)
    h = L.AveragePooling2D(3, 2, padding="same", name="pool_odd")(h)
    return keras.Model(inp, L.Conv2D(2, 1, name="head")(h), name="avgpools")


def _transposes():
    """Conv2DTranspose(3, strides=2, padding="same") with an odd kernel on a 7x7 map, with
    and without output_padding (Keras 3.14's torch backend shifted the first by a pixel)."""
    from parity.backends import tf as B

    keras = B.keras()
    L = keras.layers
    inp = keras.Input((7, 7, 3))
    h = L.Conv2DTranspose(4, 3, strides=2, padding="same", name="up_same")(inp)
    h = L.Conv2DTranspose(2, 3, strides=2, padding="same", output_padding=1,
                          name="up_output_padding")(h)
    return keras.Model(inp, h, name="transposes")


def _unet():
    from parity.backends import tf as B

    keras = B.keras()
    L = keras.layers
    inp = keras.Input((224, 224, 3))

    def block(x, c, name):
        x = L.Conv2D(c, 3, padding="same", use_bias=False, name=f"{name}_conv")(x)
        x = L.BatchNormalization(name=f"{name}_bn")(x)
        return L.ReLU(name=f"{name}_relu")(x)
    e1 = block(inp, 8, "enc1")
    e2 = block(L.MaxPooling2D(2, padding="same", name="pool1")(e1), 16, "enc2")
    b = block(L.MaxPooling2D(2, padding="same", name="pool2")(e2), 32, "bottom")
    u2 = L.Conv2DTranspose(16, 3, strides=2, padding="same", output_padding=1, name="up2")(b)
    d2 = block(L.Concatenate(name="cat2")([u2, e2]), 16, "dec2")
    u1 = L.Conv2DTranspose(8, 3, strides=2, padding="same", output_padding=1, name="up1")(d2)
    d1 = block(L.Concatenate(name="cat1")([u1, e1]), 8, "dec1")
    out = L.Conv2D(2, 1, name="head")(d1)
    return keras.Model(inp, out, name="unet"), None


def _seed001():
    from parity.model import zoo_seed001

    return zoo_seed001.keras_model(), zoo_seed001.offered_torch_model()


def _efficientnet_pytorch():
    from parity.backends import tf as B

    keras = B.keras()
    model = keras.applications.EfficientNetB0(weights=None, input_shape=(224, 224, 3))
    from efficientnet_pytorch import EfficientNet

    from parity.model.twin import keras_preprocessing

    torch_model = EfficientNet.from_name("efficientnet-b0")
    # efficientnet-pytorch expects normalized input; Keras's model normalizes inside
    return model, keras_preprocessing(model, torch_model)


def _thirdparty(family: str, mistake: str | None = None):
    def build():
        from parity.model import zoo_thirdparty as z

        if family == "resnet50":
            return z.keras_resnet(**z.RESNET50), z.torchvision_resnet(**z.RESNET50)
        if family == "resnet":
            return z.keras_resnet(), z.torchvision_resnet(mistake=mistake)
        return z.keras_mobilenet_v2(), z.torchvision_mobilenet_v2(mistake=mistake)
    return build


def _keras_cnn():
    from parity.model import converters

    return converters.keras_cnn(), None


def _onnx2torch(mistake: str | None = None):
    def convert(keras_model):
        from parity.model import converters as c

        proto = c.to_onnx(keras_model)
        return c.onnx_to_torch(c.symmetric_same_pads(proto) if mistake else proto)
    return convert


def _nobuco():
    from parity.model import converters, legacy

    keras_model, how = legacy.load(converters.nobuco_keras())
    return keras_model, converters.torch_cnn(), how


_CONVERTED = {"carry_weights": False}   # the converter's weights are what is compared
_CONVERTERS = [
    Entry("tf2onnx-onnx2torch", "a small Keras CNN vs what tf2onnx + onnx2torch make of it "
          "(NHWC input, BN as x*scale+shift, Dense as MatMul+Add; their own weights)",
          _keras_cnn, needs="onnx2torch", convert=_onnx2torch(),
          options=_CONVERTED | {"input_layout": "nhwc"}),
    Entry("tf2onnx-onnx2torch-symmetric", "the same with the ONNX convs' uneven SAME pads made "
          "symmetric (a converter writing padding=k//2; caught at c1)", _keras_cnn,
          needs="onnx2torch", convert=_onnx2torch("symmetric"),
          options=_CONVERTED | {"input_layout": "nhwc"}),
    Entry("nobuco", "a small torch CNN vs the Keras 2 model nobuco writes of it (rebuilt in "
          "Keras 3; needs PARITY_NOBUCO_PYTHON)", _nobuco, needs="nobuco-python",
          options=_CONVERTED, own_weights="the torch module's seeded weights "
          "(parity.model.converters.torch_cnn), converted by nobuco"),
]

_THIRDPARTY = [
    Entry("tv-resnet", "a small keras.applications-style ResNet v1 vs a torchvision-style port "
          "(Bottleneck, downsample after bn3, in-place add and ReLU), v1 strides", _thirdparty("resnet")),
    Entry("tv-resnet50", "keras.applications-style ResNet-50 at 224x224 (its sizes and names) vs "
          "a torchvision-style port", _thirdparty("resnet50"), batch=1),
    Entry("tv-resnet-v1.5", "the same with torchvision's v1.5 stride on the 3x3 conv",
          _thirdparty("resnet", "v1.5")),
    Entry("tv-resnet-no-bias", "the same with torchvision's bias=False convs",
          _thirdparty("resnet", "no-bias")),
    Entry("tv-resnet-no-residual", "the same with the identity blocks' out += identity "
          "left out (caught where the sum is read)", _thirdparty("resnet", "no-residual")),
    Entry("tv-resnet-bn-defaults", "the same with BatchNorm2d's eps 1e-5 (Keras: 1.001e-5)",
          _thirdparty("resnet", "bn-defaults")),
    Entry("tv-mobilenetv2", "a small keras.applications-style MobileNetV2 vs a torchvision-style "
          "port (ReLU6(inplace=True), F.pad and ZeroPad2d for TF's SAME)", _thirdparty("mobilenet")),
    Entry("tv-mobilenetv2-symmetric", "the same with torchvision's padding=1 at stride 2",
          _thirdparty("mobilenet", "symmetric")),
    Entry("tv-mobilenetv2-bn-defaults", "the same with BatchNorm2d's eps 1e-5 (Keras: 1e-3)",
          _thirdparty("mobilenet", "bn-defaults")),
]

_KERAS_TORCH = [
    Entry("mobilenetv2-keras-torch", "keras.applications.MobileNetV2 (224x224) on TensorFlow vs "
          "on Keras's torch backend", _keras_only(_applications("MobileNetV2")),
          against="keras-torch"),
    Entry("efficientnetb0-keras-torch", "keras.applications.EfficientNetB0 on TensorFlow vs on "
          "Keras's torch backend", _keras_only(_applications("EfficientNetB0")),
          against="keras-torch"),
    Entry("resnet50-keras-torch", "keras.applications.ResNet50 on TensorFlow vs on Keras's "
          "torch backend", _keras_only(_applications("ResNet50")), batch=1,
          against="keras-torch"),
    Entry("unet-keras-torch", "the U-Net (Conv2DTranspose stride 2, output_padding=1) on "
          "TensorFlow vs on Keras's torch backend", _keras_only(lambda: _unet()),
          against="keras-torch"),
    Entry("transpose-keras-torch", "Conv2DTranspose(3, strides=2, 'same') on a 7x7 map, with "
          "and without output_padding, TensorFlow vs Keras's torch backend",
          _keras_only(_transposes), against="keras-torch"),
    Entry("avgpool-keras-torch", "AveragePooling2D(3, 2, 'same') on 7x7 (even padding) and 4x4 "
          "(odd) maps, TensorFlow vs Keras's torch backend", _keras_only(_avg_pools),
          against="keras-torch"),
]

ZOO = {e.name: e for e in _THIRDPARTY + _CONVERTERS + _KERAS_TORCH + [
    Entry("twin", "a small Keras CNN vs its torch twin written with parity.ports (agrees, "
          "in training too: KerasBatchNorm)",
          _twin("ports"), batch=2),
    Entry("naive-twin", "the same CNN vs a hand port: padding=k//2, BatchNorm2d defaults, "
          "MaxPool2d(padding=1) (caught at bn1: torch-batchnorm-defaults-copied); trained "
          "with torch's optimizer defaults", _twin("naive"), batch=2,
          torch_optimizer=_torch_defaults),
    Entry("twin-torch-adam", "the twin trained with torch.optim.Adam's defaults (eps 1e-8, "
          "added after the bias correction): --train caught in the update", _twin("ports"),
          batch=2, train={"optimizer": "adam", "learning_rate": 0.001},
          torch_optimizer=_torch_defaults),
    Entry("twin-torch-batchnorm", "the CNN vs a twin with BatchNorm2d(eps=1e-3, momentum=0.01):"
          " exact in inference; --train: the running variance updated unbiased, caught in the "
          "statistics", _twin("torch-batchnorm"), batch=2),
    Entry("seed001", "the seeds/001 Keras model vs the PyTorch code offered there", _seed001),
    Entry("mobilenetv2", "keras.applications.MobileNetV2 (224x224) vs its parity.ports twin",
          _applications("MobileNetV2")),
    Entry("efficientnetb0", "keras.applications.EfficientNetB0 vs its parity.ports twin",
          _applications("EfficientNetB0")),
    Entry("resnet50", "keras.applications.ResNet50 vs its parity.ports twin",
          _applications("ResNet50"), batch=1),
    Entry("unet", "a small U-Net with Conv2DTranspose(output_padding=1) vs its parity.ports twin",
          _unet),
    Entry("efficientnet-pytorch", "keras.applications.EfficientNetB0 vs efficientnet-pytorch "
          "0.7.1 EfficientNet.from_name('efficientnet-b0')", _efficientnet_pytorch,
          needs="efficientnet_pytorch"),
]}


def run(name: str, seed: int = 0, train: dict | None = None, **options) -> dict:
    """Build the zoo entry ``name``, make its weights, compare; the report's ``model`` section
    (with ``train``, ``parity.model.training.step``'s options: one training step too, on
    seeded targets, in ``training``)."""
    import importlib

    import numpy as np

    from parity.model.core import compare
    from parity.model.errors import ModelError
    from parity.model.twin import torch_twin
    from parity.model.weights import randomize

    if name not in ZOO:
        raise ModelError(f"unknown zoo model {name!r}; known: {', '.join(ZOO)}")
    entry = ZOO[name]
    if entry.needs == "nobuco-python":
        from parity.model.converters import nobuco_python

        nobuco_python()
    elif entry.needs:
        try:
            importlib.import_module(entry.needs)
        except ImportError:
            extra = "converters" if entry.convert else "thirdparty"
            raise ModelError(f"zoo model {name!r} needs {entry.needs} (pip install "
                             f"'parity[{extra}]')") from None
    from parity.backends import tf as B

    B.keras().utils.set_random_seed(seed)  # Keras's initializers and torch's, reproducibly
    keras_model, torch_module, *source = entry.build()   # + how the Keras file was read
    shape = tuple(keras_model.inputs[0].shape[1:])
    image = name == "efficientnet-pytorch" or keras_model.name.startswith("efficientnet")

    def batch(draw_seed):
        x = np.random.default_rng(draw_seed).uniform(-1, 1, (entry.batch, *shape))
        # image values: the model rescales by 1/255 itself
        return ((x + 1) * 127.5 if image else x).astype(np.float32)
    x = batch(seed)
    described = entry.own_weights or randomize(keras_model, x, seed)
    if entry.against == "keras-torch":
        from parity.model.keras_backends import compare_backends

        if train is not None:   # another batch than the statistics were drawn from
            train = dict(train, inputs=batch(seed + 1))
        result = compare_backends(keras_model, inputs=x, seed=seed, weights=described,
                                  stop=options.get("stop"), train=train)
        result["zoo"] = {"name": name, "description": entry.description}
        return result
    if entry.convert is not None:
        torch_module = entry.convert(keras_model)
    if torch_module is None:
        torch_module = torch_twin(keras_model)
    if train is not None:
        train = entry.train | {k: v for k, v in train.items() if v is not None}
        if entry.torch_optimizer is not None and train.get("torch_optimizer") is None:
            from parity.model.training_optim import hyperparameters

            opt = train.get("optimizer", "sgd")
            train["torch_optimizer"] = entry.torch_optimizer(opt, hyperparameters(opt, train))
            train["torch_optimizer"].spec = "the pair's own (torch's defaults)"
        # another batch than the one the BatchNorm statistics were drawn from: the update of
        # a moving statistic shows its momentum only where the batch's differs from it
        train["inputs"] = batch(seed + 1)
    result = compare(keras_model, torch_module, inputs=x, seed=seed, weights=described,
                     train=train, **(entry.options | options))
    result["zoo"] = {"name": name, "description": entry.description}
    if source:
        result["keras_source"] = source[0]
    return result
