"""batch_norm: Keras BatchNormalization vs torch BatchNorm*d, eval and several training steps.

Outputs per step ``t``: ``y{t}``, ``dx{t}``, ``dgamma{t}``, ``dbeta{t}`` (for a seeded upstream
gradient) and, in training, ``moving_mean{t}``, ``moving_variance{t}`` after the step.
``keras_axis`` is the channel (-1) or, the classic porting mistake (seeds/001), a spatial
axis of the channels-last tensor; parameters then have that axis's size.

Variants: ``port`` (``parity.ports.KerasBatchNorm.from_keras``), ``native`` (``BatchNorm*d``
with Keras's numbers copied literally: ``momentum=0.99``, ``eps=1e-3``).

Reference: Keras's arithmetic in float64. Bound: ``n`` = elements per statistic; magnitudes
``(|x| + |mean|) / sqrt(var + eps) * |gamma| + |beta|`` for ``y`` (the centring of inputs with
a large mean is where rounding goes), the analogous absolute chains for the gradients, and
``momentum * |moving| + (1 - momentum) * mean((|x| + |mean|) * |x - mean|)`` for the variance.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from hypothesis import strategies as st

from parity.core import layout
from parity.core.tolerance import rounding_bound
from parity.core.config import ChannelsInput, require, require_geometry
from parity.core.numerics import DTYPES, case_rng, draw, round_to
from parity.spec.realistic import shaped_like
from parity.spec.registry import OpPair, Variant, register
from parity.spec.strategies import ordered_dtypes


@dataclass(frozen=True)
class BNConfig(ChannelsInput):
    keras_axis: int = -1
    mode: str = "train"
    steps: int = 2
    momentum: float = 0.99
    epsilon: float = 1e-3
    offset: float = 0.0
    dtype: str = "float32"

    def validate(self) -> None:
        require_geometry(self, ("spatial",), ("batch", "channels"))
        require(self.keras_axis == -1 or 1 <= self.keras_axis <= self.rank,
                f"keras_axis must be -1 or a spatial axis 1..{self.rank}")
        require(self.mode in ("train", "eval"), "mode must be train or eval")
        require(1 <= self.steps <= 5, "steps must be 1 to 5")
        require(0 <= self.momentum <= 1 and self.epsilon > 0, "momentum in [0, 1], epsilon > 0")

    @property
    def dim(self) -> int:
        """The canonical (channels-first) dimension Keras's axis normalizes."""
        return 1 if self.keras_axis == -1 else self.keras_axis + 1

    @property
    def size(self) -> int:
        return self.channels if self.keras_axis == -1 else self.spatial[self.keras_axis - 1]

    @property
    def shape(self) -> tuple[int, ...]:
        return (self.batch, self.channels, *self.spatial)


@st.composite
def _bn_configs(draw_, dtypes):
    rank = draw_(st.integers(1, 3))
    return BNConfig(rank=rank, batch=draw_(st.integers(1, 4)), channels=draw_(st.integers(1, 4)),
                    spatial=tuple(draw_(st.integers(1, 4)) for _ in range(rank)),
                    keras_axis=draw_(st.sampled_from((-1, -1, -1, *range(1, rank + 1)))),
                    mode=draw_(st.sampled_from(("train", "eval"))), steps=draw_(st.integers(1, 3)),
                    momentum=draw_(st.sampled_from((0.99, 0.9, 0.0))),
                    epsilon=draw_(st.sampled_from((1e-3, 1e-5))),
                    offset=draw_(st.sampled_from((0.0, 0.0, 100.0))),
                    dtype=draw_(st.sampled_from(ordered_dtypes(dtypes))))


def strategy(dtypes=DTYPES):
    return _bn_configs(tuple(dtypes))


OUTPUTS = ("y{t}", "dx{t}", "dgamma{t}", "dbeta{t}", "moving_mean{t}", "moving_variance{t}")
"""Per training step ``t``."""


def make_inputs(c: BNConfig, seed: int) -> dict:
    rng = case_rng(seed)
    inp = {"gamma": draw(rng, (c.size,), c.dtype, 0.5, 1.5),
           "beta": draw(rng, (c.size,), c.dtype),
           "moving_mean": draw(rng, (c.size,), c.dtype),
           "moving_variance": draw(rng, (c.size,), c.dtype, 0.5, 2.0)}
    for t in range(c.steps):
        inp[f"x{t}"] = round_to(c.offset + rng.uniform(-1, 1, c.shape), c.dtype)
        inp[f"dy{t}"] = draw(rng, c.shape, c.dtype)
    inp["dy"] = inp["dy0"]  # the runner's convention: the first upstream gradient
    return inp


def _perm(c: BNConfig):
    """Canonical (N, C, *sp) to the layout each side sees: NHWC for TF."""
    return layout.channels_first_to_last, layout.channels_last_to_first


# ---------------------------------------------------------------- TF side
def tf_keras(c: BNConfig, inp: dict) -> dict:
    """keras.layers.BatchNormalization(axis, momentum, epsilon), stepped eagerly."""
    return keras_steps(c, inp)


def keras_layer(keras, c: BNConfig, inp: dict, dtype: str):
    """keras.layers.BatchNormalization(axis, momentum, epsilon), built, with the case's
    gamma, beta and moving statistics (on the Keras backend of ``keras``)."""
    layer = keras.layers.BatchNormalization(axis=c.keras_axis, momentum=c.momentum,
                                            epsilon=c.epsilon, dtype=dtype)
    layer.build((c.batch, *c.spatial, c.channels))
    layer.set_weights([inp["gamma"], inp["beta"], inp["moving_mean"], inp["moving_variance"]])
    return layer


def keras_steps(c: BNConfig, inp: dict, layer_dtype: str | None = None,
                io_dtype: str | None = None) -> dict:
    """The Keras layer (``dtype=layer_dtype``, default the config's: a mixed policy for
    ``batch_norm_mixed``) stepped eagerly on x and dy of ``io_dtype`` (default the config's)."""
    from parity.backends import tf as B

    tf = B.tf()
    to_tf, from_tf = _perm(c)
    io_dtype = io_dtype or c.dtype
    layer = keras_layer(B.keras(), c, inp, layer_dtype or c.dtype)
    out = {}
    for t in range(c.steps):
        x = B.constant(to_tf(inp[f"x{t}"]), io_dtype)
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x, training=c.mode == "train")
        dx, dg, db = tape.gradient(y, [x, layer.gamma.value, layer.beta.value],
                                   output_gradients=B.constant(to_tf(inp[f"dy{t}"]), io_dtype))
        out.update({f"y{t}": from_tf(B.to_numpy(y)), f"dx{t}": from_tf(B.to_numpy(dx)),
                    f"dgamma{t}": B.to_numpy(dg), f"dbeta{t}": B.to_numpy(db)})
        if c.mode == "train":
            out[f"moving_mean{t}"] = B.to_numpy(layer.moving_mean.value)
            out[f"moving_variance{t}"] = B.to_numpy(layer.moving_variance.value)
    return out


# ---------------------------------------------------------------- torch sides
def torch_steps(c: BNConfig, inp: dict, module, gamma, beta, mean_buf, var_buf,
                io_dtype: str | None = None) -> dict:
    """Step ``module`` on x and dy of ``io_dtype`` (default the config's) as Keras is stepped."""
    from parity.backends import torch as B

    io_dtype = io_dtype or c.dtype
    module.train(c.mode == "train")
    out = {}
    for t in range(c.steps):
        x = B.tensor(inp[f"x{t}"], io_dtype, True)
        for p in (gamma, beta):
            p.grad = None
        y = module(x)
        y.backward(B.tensor(inp[f"dy{t}"], io_dtype))
        out.update({f"y{t}": B.to_numpy(y), f"dx{t}": B.to_numpy(x.grad),
                    f"dgamma{t}": B.to_numpy(gamma.grad), f"dbeta{t}": B.to_numpy(beta.grad)})
        if c.mode == "train":
            out[f"moving_mean{t}"] = B.to_numpy(mean_buf)
            out[f"moving_variance{t}"] = B.to_numpy(var_buf)
    return out


def keras_like_steps(c: BNConfig, inp: dict, module, param_dtype: str | None = None,
                     io_dtype: str | None = None) -> dict:
    """Load Keras's parameters into a module with gamma/beta/moving_* attributes (of
    ``param_dtype``, default the config's; float32 under a mixed policy) and step it on x and dy
    of ``io_dtype`` (default the config's)."""
    from parity.backends import torch as B

    torch = B.torch()
    param_dtype = param_dtype or c.dtype
    module = module.to(getattr(torch, param_dtype))
    with torch.no_grad():
        for name in ("gamma", "beta", "moving_mean", "moving_variance"):
            getattr(module, name).copy_(B.tensor(inp[name], param_dtype))
    return torch_steps(c, inp, module, module.gamma, module.beta, module.moving_mean,
                       module.moving_variance, io_dtype=io_dtype)


def keras_batch_norm(size, dim, momentum, epsilon):
    """parity.ports.KerasBatchNorm with the Keras layer's numbers."""
    from parity.ports.batchnorm import KerasBatchNorm

    return KerasBatchNorm(size, dim, momentum, epsilon)


def torch_native(c: BNConfig, inp: dict) -> dict:
    """torch.nn.BatchNorm{r}d(channels, eps=epsilon, momentum=momentum): numbers copied as is."""
    from parity.backends import torch as B

    torch = B.torch()
    bn = getattr(torch.nn, f"BatchNorm{c.rank}d")(c.channels, eps=c.epsilon,
                                                  momentum=c.momentum).to(getattr(torch, c.dtype))
    with torch.no_grad():  # raises when Keras's axis has another size than the channels
        bn.weight.copy_(B.tensor(inp["gamma"], c.dtype))
        bn.bias.copy_(B.tensor(inp["beta"], c.dtype))
        bn.running_mean.copy_(B.tensor(inp["moving_mean"], c.dtype))
        bn.running_var.copy_(B.tensor(inp["moving_variance"], c.dtype))
    return torch_steps(c, inp, bn, bn.weight, bn.bias, bn.running_mean, bn.running_var)


# ---------------------------------------------------------------- reference and bound
def reference_and_bounds(c: BNConfig, inp: dict) -> tuple[dict, dict]:
    """Keras's arithmetic in float64, step by step (moving statistics carried along)."""
    axes = tuple(d for d in range(len(c.shape)) if d != c.dim)
    view = [-1 if d == c.dim else 1 for d in range(len(c.shape))]
    g, b = inp["gamma"].reshape(view), inp["beta"].reshape(view)
    mm, mv = inp["moving_mean"].copy(), inp["moving_variance"].copy()
    n = math.prod(c.shape[d] for d in axes)
    exact, mag = {}, {}
    for t in range(c.steps):
        x, dy = inp[f"x{t}"], inp[f"dy{t}"]
        if c.mode == "train":
            mean = x.mean(axis=axes, keepdims=True)
            var = ((x - mean) ** 2).mean(axis=axes, keepdims=True)
        else:
            mean, var = mm.reshape(view), mv.reshape(view)
        inv = 1.0 / np.sqrt(var + c.epsilon)
        xhat = (x - mean) * inv
        exact[f"y{t}"] = xhat * g + b
        mag[f"y{t}"] = (np.abs(x) + np.abs(mean)) * inv * np.abs(g) + np.abs(b)
        exact[f"dgamma{t}"] = (dy * xhat).sum(axis=axes)
        mag[f"dgamma{t}"] = (np.abs(dy) * (np.abs(x) + np.abs(mean)) * inv).sum(axis=axes)
        exact[f"dbeta{t}"] = dy.sum(axis=axes)
        mag[f"dbeta{t}"] = np.abs(dy).sum(axis=axes)
        if c.mode == "train":
            exact[f"dx{t}"] = g * inv * (dy - dy.mean(axis=axes, keepdims=True)
                                         - xhat * (dy * xhat).mean(axis=axes, keepdims=True))
            mag[f"dx{t}"] = np.abs(g) * inv * (
                2 * np.abs(dy) + (np.abs(x) + np.abs(mean)) * inv
                * (np.abs(dy) * (np.abs(x) + np.abs(mean)) * inv).mean(axis=axes, keepdims=True))
            m = c.momentum
            spread = ((np.abs(x) + np.abs(mean)) * np.abs(x - mean)).mean(axis=axes)
            mm = mm * m + mean.reshape(-1) * (1 - m)
            mv = mv * m + var.reshape(-1) * (1 - m)
            exact[f"moving_mean{t}"], exact[f"moving_variance{t}"] = mm.copy(), mv.copy()
            mag[f"moving_mean{t}"] = m * np.abs(mm) + (1 - m) * np.abs(x).mean(axis=axes)
            mag[f"moving_variance{t}"] = m * np.abs(mv) + (1 - m) * 2 * spread
        else:
            exact[f"dx{t}"] = dy * g * inv
            mag[f"dx{t}"] = np.abs(dy * g) * inv
    return exact, {k: rounding_bound(v, n + 4, c.dtype) for k, v in mag.items()}


def candidate_side(fn):
    """``fn(size, dim, momentum, epsilon) -> module`` with gamma, beta, moving_mean,
    moving_variance attributes (like parity.ports.KerasBatchNorm)."""
    def side(c: BNConfig, inp: dict) -> dict:
        return keras_like_steps(c, inp, fn(c.size, c.dim, c.momentum, c.epsilon))
    return side


def torch_defaults(c: BNConfig, inp: dict) -> dict:
    """torch.nn.BatchNorm{r}d(channels) with torch's defaults (eps 1e-5, momentum 0.1): the
    Keras layer's epsilon and momentum not carried over."""
    from parity.backends import torch as B

    torch = B.torch()
    bn = getattr(torch.nn, f"BatchNorm{c.rank}d")(c.channels).to(getattr(torch, c.dtype))
    with torch.no_grad():
        bn.weight.copy_(B.tensor(inp["gamma"], c.dtype))
        bn.bias.copy_(B.tensor(inp["beta"], c.dtype))
        bn.running_mean.copy_(B.tensor(inp["moving_mean"], c.dtype))
        bn.running_var.copy_(B.tensor(inp["moving_variance"], c.dtype))
    return torch_steps(c, inp, bn, bn.weight, bn.bias, bn.running_mean, bn.running_var)


register(OpPair(
    name="batch_norm", family="norm",
    description="Keras BatchNormalization vs torch, eval and training steps (outputs, gradients, "
                "moving statistics); Keras axis other than the channels too",
    config_type=BNConfig, strategy=strategy, realistic=shaped_like("norm", strategy),
    make_inputs=make_inputs, reference=reference_and_bounds, tf_sides={"keras": tf_keras},
    audit_tf="keras",
    torch_sides={"port": candidate_side(keras_batch_norm), "native": torch_native,
                 "defaults": torch_defaults},
    variants={"port": Variant("port", "keras", "port", "Keras BatchNormalization vs "
                              "parity.ports.KerasBatchNorm"),
              "native": Variant("native", "keras", "native", "Keras BatchNormalization vs "
                                "torch BatchNorm*d(eps=epsilon, momentum=momentum) copied as is"),
              "defaults": Variant("defaults", "keras", "defaults", "Keras BatchNormalization vs "
                                  "torch BatchNorm*d(channels) with torch's default eps and "
                                  "momentum")},
    candidate_side=candidate_side,
    candidate_doc="fn(size, dim, momentum, epsilon) -> torch module with gamma, beta, "
                  "moving_mean, moving_variance (Keras meaning of momentum and epsilon)",
    outputs=OUTPUTS))
