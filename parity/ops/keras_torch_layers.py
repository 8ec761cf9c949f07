"""Keras 3's own layers on its torch backend as the torch side: the ``keras_torch`` variant of
the ops Keras implements as layers only (causal ``Conv1D``, the norms, ``UnitNormalization``,
``SeparableConv2D``'s backend function, ``image.resize``, the initializers), and
``keras_torch_layer`` (``keras.layers.Conv2D`` etc.) beside the backend-function variant of the
convolutions and pools (``parity.ops.keras_torch``).

The TF side is the same Keras layer on TensorFlow (the op's ``keras`` side, built by the same
code: ``parity.ops.keras_layers``), so a failure is a difference between Keras's two backends.
Each side runs in a worker with ``KERAS_BACKEND=torch``.
"""
from __future__ import annotations

import parity.ops.causal  # noqa: F401  (the ops it extends register first)
import parity.ops.mixed  # noqa: F401
from parity.ops import batchnorm, conv, groupnorm, init, init_default, init_keras, norm, \
    optim_step, pool, resize, separable, transpose
from parity.ops.keras_layers import on_torch, torch_side
from parity.ops.keras_torch import ENV, _with_bias
from parity.ops.sides import torch_run
from parity.spec.registry import Variant, add_variant


def _add(op_name: str, name: str, tf: str, side, what: str) -> None:
    add_variant(op_name, Variant(name, tf, name,
                                 f"{tf} vs {what} (Keras 3 on torch, in a worker)", ENV), side)


def _layer(op_name: str, side, what: str, name: str = "keras_torch_layer") -> None:
    _add(op_name, name, "keras", side, f"keras.layers.{what}")


# ---------------------------------------------------------------- layer classes
for _r in (1, 2, 3):
    _layer(f"conv{_r}d_same", torch_side(conv.keras_layer()), f"Conv{_r}D(padding='same')")
    _layer(f"conv_transpose{_r}d", torch_side(transpose.KERAS_LAYER), f"Conv{_r}DTranspose")
    for _kind, _cls in (("max", "MaxPooling"), ("avg", "AveragePooling")):
        _layer(f"{_kind}_pool{_r}d_same", torch_side(pool.keras_layer(_kind)),
               f"{_cls}{_r}D(padding='same')")
_layer("depthwise_conv2d_same", torch_side(conv.keras_layer(depthwise=True)),
       "DepthwiseConv2D(padding='same')")
_layer("separable_conv2d_same", torch_side(separable.KERAS_LAYER),
       "SeparableConv2D(padding='same')")
_layer("conv1d_causal", torch_side(conv.keras_layer(padding="causal")),
       "Conv1D(padding='causal')", name="keras_torch")
for _kind, _cls in (("group", "GroupNormalization"), ("layer", "LayerNormalization")):
    _layer(f"{_kind}_norm", torch_side(groupnorm.keras_layer(_kind)), _cls, name="keras_torch")
_add("resize2d", "keras_torch_layer", "upsampling", torch_side(resize.UPSAMPLING),
     "keras.layers.UpSampling2D(size, interpolation)")


# ---------------------------------------------------------------- backend functions
def _separable(c, inp: dict) -> dict:
    """keras.src.backend.torch.nn.separable_conv(padding="same"), then the bias."""
    from parity.backends import keras_torch as K

    def fn(x, wd, wp, b):
        m = c.depth_multiplier
        depthwise = wd.reshape(c.in_channels, m, *wd.shape[2:]).permute(2, 3, 0, 1)
        pointwise = wp.permute(2, 3, 1, 0)
        return _with_bias(K.nn().separable_conv(
            x, depthwise, pointwise, strides=c.stride, padding="same",
            data_format="channels_first", dilation_rate=c.dilation), b)
    return torch_run(c.dtype, inp, fn, separable.TENSORS)


def _resize(c, inp: dict) -> dict:
    """keras.src.backend.torch.image.resize(size, interpolation, antialias), channels first."""
    from parity.backends import keras_torch as K

    return torch_run(c.dtype, inp, lambda x: K.image().resize(
        x, c.size, interpolation=c.method, antialias=c.antialias,
        data_format="channels_first"), ("x",))


_add("separable_conv2d_same", "keras_torch", "tf.nn", _separable,
     "keras.src.backend.torch.nn.separable_conv")
_add("resize2d", "keras_torch", "tf.image", _resize, "keras.src.backend.torch.image.resize")


# ---------------------------------------------------------------- BatchNormalization
def _batch_norm(c, inp: dict, layer_dtype: str | None = None,
                io_dtype: str | None = None) -> dict:
    """keras.layers.BatchNormalization on torch, stepped as the TF side is (train or eval;
    ``layer_dtype``, ``io_dtype`` as ``batchnorm.keras_steps``'s)."""
    from parity.backends import keras_torch as K

    to_keras, back = batchnorm._perm(c)
    io_dtype = io_dtype or c.dtype
    layer = batchnorm.keras_layer(K.keras(), c, inp, layer_dtype or c.dtype)
    out = {}
    for t in range(c.steps):
        x = K.tensor(to_keras(inp[f"x{t}"]), io_dtype, True)
        for v in (layer.gamma, layer.beta):
            v.value.grad = None
        y = layer(x, training=c.mode == "train")
        y.backward(K.tensor(to_keras(inp[f"dy{t}"]), io_dtype))
        out.update({f"y{t}": back(K.to_numpy(y)), f"dx{t}": back(K.to_numpy(x.grad)),
                    f"dgamma{t}": K.to_numpy(layer.gamma.value.grad),
                    f"dbeta{t}": K.to_numpy(layer.beta.value.grad)})
        if c.mode == "train":
            out[f"moving_mean{t}"] = K.to_numpy(layer.moving_mean)
            out[f"moving_variance{t}"] = K.to_numpy(layer.moving_variance)
    return out


_layer("batch_norm", _batch_norm, "BatchNormalization(axis, momentum, epsilon)",
       name="keras_torch")


# ---------------------------------------------------------------- mixed precision
def _conv_mixed(c, inp: dict) -> dict:
    """keras.layers.Conv2D(dtype=policy) on torch: float32 variables and x, half compute."""
    return on_torch(conv.keras_layer(), c, inp, layer_dtype=c.policy, x_dtype="float32")


def _bn_mixed(c, inp: dict) -> dict:
    """keras.layers.BatchNormalization(dtype=policy) on torch, on the half input."""
    return _batch_norm(c, inp, layer_dtype=c.policy, io_dtype=c.compute)


_layer("conv2d_mixed", _conv_mixed, "Conv2D(padding='same', dtype=policy)", name="keras_torch")
_layer("batch_norm_mixed", _bn_mixed, "BatchNormalization(dtype=policy)", name="keras_torch")


# ---------------------------------------------------------------- UnitNormalization
def _unit_norm(c, inp: dict) -> dict:
    """keras.ops.normalize, UnitNormalization's call, on torch (``norm.keras_unit_norm``)."""
    from parity.backends import keras_torch as K

    return torch_run(c.dtype, inp, lambda x: norm.keras_unit_norm(K.keras(), c, x), ("x",))


_add("l2_normalize", "keras_torch", "keras", _unit_norm,
     "keras.ops.normalize(epsilon=sqrt(epsilon)), UnitNormalization's call")


# ---------------------------------------------------------------- initializers
def _initializer(op_name: str):
    def side(c, inp: dict) -> dict:
        """The op's Keras initializer on torch, the TF side's seeds."""
        from parity.backends import keras_torch as K

        make = init_keras.KERAS_INITIALIZERS[op_name]
        return init.keras_draws(c, inp["tf"], lambda keras, s: make(keras, c, s), K)
    return side


def _layer_defaults(c, inp: dict) -> dict:
    """The Keras layer's own initializers on torch, the TF side's seeds."""
    from parity.backends import keras_torch as K

    return init_default.layer_draws(c, inp["tf"], K)


for _op in sorted(init_keras.KERAS_INITIALIZERS):
    _add(_op, "keras_torch", "keras", _initializer(_op), "the same keras.initializers")
for _op in ("init_default_conv", "init_default_dense"):
    _add(_op, "keras_torch", "keras", _layer_defaults, "the same Keras layer's initializers")


# ---------------------------------------------------------------- optimizers
def _optimizer_steps(c, inp: dict) -> dict:
    """The same Keras optimizer (SGD, RMSprop; schedule, clipnorm) on Keras's torch backend."""
    from parity.backends import keras_torch as K

    return optim_step.keras_steps(K, c, inp)


_add("optimizer_step", "keras_torch", "keras", _optimizer_steps,
     "the same keras.optimizers on two variables")
