"""init_default_conv, init_default_dense: each framework's default kernel and bias init.

TF side: the Keras layer (``Conv{1,2,3}D``, ``Conv{1,2,3}DTranspose``, ``DepthwiseConv{1,2}D``,
``Dense``) is built, and its own ``kernel_initializer`` (``depthwise_initializer``) and
``bias_initializer`` are drawn again with fresh seeds on its kernel and bias shapes. Torch
sides: the torch module (``Conv*d``, ``ConvTranspose*d``, ``Conv*d(groups=C)``, ``Linear``)
re-initialized with ``reset_parameters()`` (``native``: torch's defaults) or
``parity.ports.init.keras_default_init_`` (``port``) under fresh seeds.

Reference: Keras's documented defaults, ``glorot_uniform`` kernel (``U(+-sqrt(6 / (fan_in +
fan_out)))``) and ``zeros`` bias. Torch's defaults (``kaiming_uniform_(a=sqrt(5))``, i.e.
``U(+-1/sqrt(fan_in))``, and a bias ``U(+-1/sqrt(fan_in))``) are a different distribution: the
native variant measures by how much.
"""
from __future__ import annotations

from parity.ops.init import (EXAMPLES_SHARE, InitConfig, derived, judge, layer_fields,
                             make_inputs, reference_fans, reported_fans, torch_groups,
                             torch_shape, variance_scaling_claim)
from parity.spec.registry import OpPair, Variant, register
from parity.core.stats import Claim

CONV_LAYERS = ("conv1d", "conv2d", "conv3d", "conv_transpose1d", "conv_transpose2d",
               "conv_transpose3d", "depthwise1d", "depthwise2d")


def claims(c: InitConfig) -> dict:
    fan_in, fan_out = reference_fans(c)
    return {"kernel": variance_scaling_claim(1.0, (fan_in + fan_out) / 2, "uniform"),
            "bias": Claim.constant(0.0)}


def keras_layer(c: InitConfig, keras=None):
    """The built Keras layer for the config, in the case dtype (``keras``: the module of the
    backend it is built on; default Keras on TensorFlow)."""
    if keras is None:
        from parity.backends import tf as B
        keras = B.keras()

    layers = keras.layers
    r = str(c.rank)
    if c.kind == "dense":
        layer, shape = layers.Dense(c.out_channels, dtype=c.dtype), (None, c.in_channels)
    else:
        kw = {"kernel_size": tuple(c.kernel), "dtype": c.dtype}
        if c.kind == "conv":
            layer = getattr(layers, f"Conv{r}D")(c.out_channels, groups=c.groups, **kw)
        elif c.kind == "conv_transpose":
            layer = getattr(layers, f"Conv{r}DTranspose")(c.out_channels, **kw)
        else:
            layer = getattr(layers, f"DepthwiseConv{r}D")(
                depth_multiplier=c.out_channels // c.in_channels, **kw)
        shape = (None,) + (None,) * c.rank + (c.in_channels,)
    layer.build(shape)
    return layer


def layer_draws(c: InitConfig, seeds, backend) -> dict:
    """Fresh draws of the layer's own kernel and bias initializers (its config, each seed),
    pooled, on the Keras of ``backend`` (``parity.backends.tf`` or ``.keras_torch``)."""
    import numpy as np

    layer = keras_layer(c, backend.keras())
    kernel_init = getattr(layer, "depthwise_initializer", None) or layer.kernel_initializer
    kernel_var = getattr(layer, "depthwise_kernel", None) or layer.kernel
    drawn = {"kernel": [], "bias": []}
    for s in seeds:
        for name, init, var in (("kernel", kernel_init, kernel_var),
                                ("bias", layer.bias_initializer, layer.bias)):
            config = dict(init.get_config(), **({"seed": s} if "seed" in init.get_config() else {}))
            fresh = type(init).from_config(config)
            drawn[name].append(backend.to_numpy(fresh(tuple(var.shape), dtype=c.dtype)).ravel())
    return {"kernel": np.concatenate(drawn["kernel"]), "bias": np.concatenate(drawn["bias"]),
            "fans": tuple(backend.keras_fans(kernel_var.shape))}


def tf_layer(c: InitConfig, inp: dict) -> dict:
    from parity.backends import tf as B

    return layer_draws(c, inp["tf"], B)


def torch_module(c: InitConfig):
    """The torch module for the config, in the case dtype (parameters as constructed)."""
    from parity.backends import torch as B

    nn, dtype = B.torch().nn, getattr(B.torch(), c.dtype)
    if c.kind == "dense":
        return nn.Linear(c.in_channels, c.out_channels, dtype=dtype)
    cls = getattr(nn, f"ConvTranspose{c.rank}d" if c.kind == "conv_transpose" else f"Conv{c.rank}d")
    module = cls(c.in_channels, c.out_channels, tuple(c.kernel), groups=torch_groups(c),
                 dtype=dtype)
    assert tuple(module.weight.shape) == torch_shape(c)
    return module


def _torch_reinit(c: InitConfig, inp: dict, reinit, fans: str) -> dict:
    import numpy as np

    from parity.backends import torch as B

    torch = B.torch()
    module = torch_module(c)
    drawn = {"kernel": [], "bias": []}
    for s in inp["torch"]:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(s)
            reinit(module, B.generator(s))
        drawn["kernel"].append(B.to_numpy(module.weight).ravel())
        drawn["bias"].append(B.to_numpy(module.bias).ravel())
    return dict(reported_fans(c, module.weight, fans),
                **{k: np.concatenate(v) for k, v in drawn.items()})


def torch_native(c, inp):
    return _torch_reinit(c, inp, lambda m, g: m.reset_parameters(), "torch")


def torch_port(c, inp):
    from parity.ports.init import keras_default_init_
    return _torch_reinit(c, inp, lambda m, g: keras_default_init_(m, c.kind, generator=g), "keras")


def _candidate(fn):
    return lambda c, inp: _torch_reinit(c, inp, lambda m, g: fn(m, generator=g), None)


def _register(name: str, layers: tuple[str, ...], keras: str, torch_: str) -> None:
    register(OpPair(
        name=name, family="init",
        description=f"default kernel and bias init of Keras {keras} vs torch {torch_}",
        config_type=InitConfig,
        strategy=lambda dtypes=("float32",): layer_fields(tuple(dtypes), layers).map(
            lambda fields: InitConfig(**fields)),
        make_inputs=make_inputs, reference=None, tf_sides={"keras": tf_layer}, audit_tf="keras",
        torch_sides={"native": torch_native, "port": torch_port},
        variants={"port": Variant("port", "keras", "port", f"Keras {keras} defaults vs torch "
                                  f"{torch_} with parity.ports.init.keras_default_init_"),
                  "native": Variant("native", "keras", "native",
                                    f"Keras {keras} defaults vs torch {torch_} defaults")},
        candidate_side=_candidate,
        candidate_doc="fn(module, generator=) re-initializes the torch module's weight and bias",
        outputs=("kernel", "bias"),
        check=lambda c: None if c.layer in layers else _wrong_layer(name, layers),
        examples_share=EXAMPLES_SHARE, derived=derived("fan_avg", "uniform"),
        judge=judge(claims, lambda c: "fan_avg")))


def _wrong_layer(name, layers):
    from parity.core.config import ConfigError
    raise ConfigError(f"{name} takes layer {' | '.join(layers)}")


_register("init_default_conv", CONV_LAYERS,
          "Conv1D-3D / Conv1DTranspose-3DTranspose / DepthwiseConv1D-2D",
          "Conv1d-3d / ConvTranspose1d-3d / Conv1d-2d(groups=C)")
_register("init_default_dense", ("dense",), "Dense", "Linear")
