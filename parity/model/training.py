"""One training step of a Keras model and a torch module, compared quantity by quantity: the
loss, every mapped weight's gradient, BatchNormalization's moving statistics after the step,
and every weight after the optimizer's update.

Each side steps as its users write it: Keras with ``tf.GradientTape`` and a Keras optimizer's
``apply_gradients`` (forward with ``training=True``: batch statistics, moving statistics
updated), torch with ``module.train()``, ``loss.backward()`` and ``torch.optim``'s
``step()``; Keras's hyperparameters are given and translated to torch's meaning here
(``OPTIMIZERS``). The torch module starts from Keras's weights, carried as ``parity model``
carries them. Both run in float32 and in float64 (a float64 copy of each model with the same
weights); a quantity is judged as the forward pass's propagated values are: the float64 values
against the two models' own float32-vs-float64 drift scaled to float64's unit roundoff, with a
floor of ``ROUNDING_C`` float64 roundings of the value, and the float32 values against both
models' drift plus that float64 bound. The first diverging quantity is looked for in the order
loss -> gradients (from the output back) -> statistics -> update.
"""
from __future__ import annotations

import numpy as np

from parity.core.layout import torch_layout
from parity.core.numerics import unit_roundoff
from parity.core.tolerance import compare_output
from parity.model import carry
from parity.model.bounds import ROUNDING_C
from parity.model.core import matched
from parity.model.errors import ModelError
from parity.model.keras_graph import KerasGraph, weights_by_name
from parity.model.torch_graph import TorchGraph, modules_of

LOSSES = ("mse", "crossentropy")
OPTIMIZERS = ("sgd", "adam")
"""Keras's optimizer and what it means in torch, translated here (``parity.ports.optim``):
``sgd``, Keras's ``SGD(learning_rate, momentum)``: ``torch.optim.SGD(lr, momentum)`` (the same
update while the learning rate is constant); ``adam``, Keras's ``Adam(learning_rate, beta_1,
beta_2, epsilon)``: ``parity.ports.KerasAdam``, since Keras adds epsilon before the bias
correction and no constant ``eps`` of ``torch.optim.Adam`` does that. Keras rounds the
hyperparameters to float32 (``keras_float``), for float64 weights too; so do the translations.
``torch_optimizer`` replaces the translation with a user's own, which is judged as it is."""
ORDER = ("loss", "gradient", "statistics", "update")
_BN_SOURCE = {"weight": "gamma", "bias": "beta", "running_mean": "moving_mean",
              "running_var": "moving_variance"}
"""torch's BatchNorm names -> the Keras weight each holds (KerasBatchNorm uses Keras's)."""


def _keras_optimizer(optimizer: str, hyper: dict):
    from parity.backends import tf as B

    keras = B.keras()
    if optimizer == "sgd":
        return keras.optimizers.SGD(learning_rate=hyper["learning_rate"],
                                    momentum=hyper["momentum"])
    return keras.optimizers.Adam(learning_rate=hyper["learning_rate"], beta_1=hyper["beta_1"],
                                 beta_2=hyper["beta_2"], epsilon=hyper["epsilon"])


def _torch_optimizer(optimizer: str, hyper: dict):
    """Keras's optimizer in torch's meaning: a factory of ``params``."""
    import torch

    from parity.ports.optim import KerasAdam, keras_float

    if optimizer == "sgd":
        return lambda params: torch.optim.SGD(params, lr=keras_float(hyper["learning_rate"]),
                                              momentum=keras_float(hyper["momentum"]))
    return lambda params: KerasAdam(params, lr=hyper["learning_rate"], beta_1=hyper["beta_1"],
                                    beta_2=hyper["beta_2"], epsilon=hyper["epsilon"])


def _keras_step(model, x, y, loss: str, make_optimizer):
    from parity.backends import tf as B

    keras, tf = B.keras(), B.tf()
    before = [w.numpy() for w in model.weights]
    x_t, y_t = tf.constant(x), tf.constant(y)
    with tf.GradientTape() as tape:
        out = model(x_t, training=True)
        if loss == "mse":
            value = tf.reduce_mean(tf.square(out - y_t))
        else:
            value = tf.reduce_mean(keras.losses.categorical_crossentropy(y_t, out,
                                                                         from_logits=True))
    grads = tape.gradient(value, model.trainable_weights)
    by_var = {id(v): g.numpy() for v, g in zip(model.trainable_weights, grads)}
    make_optimizer().apply_gradients(zip(grads, model.trainable_weights))
    result = {"loss": float(value.numpy()), "gradient": {}, "after": {}}
    for layer in model.layers:
        for short, w in weights_by_name(layer).items():
            if id(w) in by_var:
                result["gradient"][(layer.name, short)] = by_var[id(w)]
            result["after"][(layer.name, short)] = w.numpy()
    for w, value in zip(model.weights, before):   # the caller's model is left as it was
        w.assign(value)
    return result


def _torch_step(module, x, y, loss: str, make_optimizer):
    import torch

    module.train()
    out = module(torch.from_numpy(x))
    target = torch.from_numpy(y)
    if loss == "mse":
        value = torch.mean((out - target) ** 2)
    else:
        value = torch.nn.functional.cross_entropy(out, target.argmax(dim=1))
    module.zero_grad()
    value.backward()
    grads = {n: p.grad.detach().numpy().copy() for n, p in module.named_parameters()
             if p.grad is not None}
    make_optimizer(module.parameters()).step()
    after = {n: t.detach().numpy().copy() for n, t in
             [*module.named_parameters(), *module.named_buffers()]}
    return {"loss": float(value.detach()), "gradient": grads, "after": after}


def _plain(v):
    """A NumPy scalar as the Python value a JSON report holds."""
    return v.item() if isinstance(v, np.generic) else v


def targets_for(keras_model, inputs, loss: str, seed: int = 0) -> np.ndarray:
    """Seeded targets of the model output's shape: uniform in [-1, 1) for ``mse``, one-hot
    rows of random classes for ``crossentropy``."""
    shape = tuple(keras_model.outputs[0].shape[1:])
    rng = np.random.default_rng(seed + 1)
    n = len(inputs)
    if loss == "crossentropy":
        return np.eye(shape[-1], dtype=np.float32)[rng.integers(0, shape[-1], n)]
    return rng.uniform(-1, 1, (n, *shape)).astype(np.float32)


def _judge(k32, k64, t32, t64) -> dict:
    """The float32 and float64 comparisons of one quantity (Keras's values are the reference)."""
    k32, k64, t32, t64 = (np.asarray(a, np.float64) for a in (k32, k64, t32, t64))
    drift = np.abs(k32 - k64) + np.abs(t32 - t64)
    floor = ROUNDING_C * unit_roundoff("float64") * np.abs(k64)
    # the float64 rounding noise of a quantity: its largest float32 drift, scaled (an element
    # whose float32 errors happened to cancel still has float64's own)
    b64 = ROUNDING_C * unit_roundoff("float64") / unit_roundoff("float32") * \
        float(np.max(drift, initial=0.0)) + floor
    out = {}
    floor32 = ROUNDING_C * unit_roundoff("float32") * np.abs(k64)   # the value's own roundings
    for dt, k, t, bound in (("float32", k32, t32, drift + floor32 + b64),
                            ("float64", k64, t64, b64)):
        m = compare_output(k, t, k64, bound)
        out[dt] = {key: _plain(m.get(key)) for key in ("shape_match", "max_abs_diff",
                                                       "bound_ratio", "mismatched")}
    return out


def step(keras_model, torch_module, inputs, targets, *, loss: str = "mse",
         optimizer: str = "sgd", learning_rate: float = 0.01, momentum: float = 0.0,
         beta_1: float = 0.9, beta_2: float = 0.999, epsilon: float = 1e-7,
         torch_optimizer=None, mapping=None, channels_first: bool = True) -> dict:
    """One step of each model from Keras's weights on ``inputs`` and ``targets`` (Keras
    layout; one-hot rows for ``crossentropy``, whose model output is logits), with Keras's
    ``optimizer`` and hyperparameters (Keras's defaults) and their translation to torch, or
    ``torch_optimizer(params)`` where given. Returns ``{"quantities": [...], "verdict":
    {...}}``: each quantity with its kind, layer, weight and float32/float64 comparison, in the
    order the verdict looks for the first diverging."""
    if loss not in LOSSES:
        raise ModelError(f"loss must be one of {', '.join(LOSSES)}, got {loss!r}")
    if optimizer not in OPTIMIZERS:
        raise ModelError(f"optimizer must be one of {', '.join(OPTIMIZERS)}, got {optimizer!r}")
    hyper = {"learning_rate": learning_rate, "momentum": momentum, "beta_1": beta_1,
             "beta_2": beta_2, "epsilon": epsilon}
    make_torch = torch_optimizer or _torch_optimizer(optimizer, hyper)
    kg, tg = KerasGraph(keras_model), TorchGraph(torch_module, channels_first)
    x = np.asarray(inputs, np.float32)
    y = np.asarray(targets, np.float32)
    _, pairs = matched(kg, tg, torch_layout(x, channels_first), mapping, channels_first,
                       channels_first)   # as compare matches them
    carry.load(kg, tg, pairs, channels_first)
    tg.reset_copies()
    keras_side, torch_side = {}, {}
    for dt in ("float32", "float64"):
        keras_side[dt] = _keras_step(kg.model_for(dt), x.astype(dt), y.astype(dt), loss,
                                     lambda: _keras_optimizer(optimizer, hyper))
        torch_side[dt] = _torch_step(tg.copy_for(dt), torch_layout(x, channels_first).astype(dt),
                                     torch_layout(y, channels_first).astype(dt), loss,
                                     make_torch)
    rows = [{"kind": "loss", "layer": None, "weight": None,
             **_judge(*(s[dt]["loss"] for s in (keras_side, torch_side)
                        for dt in ("float32", "float64")))}]
    named = {m: n for n, m in torch_module.named_modules()}
    later = []
    for index, (name, labels) in reversed(list(enumerate(pairs))):   # gradients: from the back
        modules = modules_of(torch_module, labels)
        prefixes = [named[m] for m in modules]
        for kind, source in (("gradient", "gradient"), ("statistics", "after"),
                             ("update", "after")):
            values = {dt: {short: v for (layer, short), v in keras_side[dt][source].items()
                           if layer == name} for dt in keras_side}
            if not values["float32"]:
                continue
            want = {dt: carry.expected(kg, name, modules, channels_first, weights=values[dt])
                    for dt in values}
            for (i, pname), _ in want["float32"].items():
                stat = pname in ("running_mean", "running_var", "moving_mean", "moving_variance")
                if (kind == "statistics") != stat or _BN_SOURCE.get(pname, pname) not in \
                        values["float32"] and kg.kind(name) == "batchnorm":
                    continue   # (a gamma or beta Keras has not: carry fills it, none trains)
                key = f"{prefixes[i]}.{pname}" if prefixes[i] else pname
                have = {dt: torch_side[dt][source].get(key) for dt in torch_side}
                if have["float32"] is None:
                    continue
                row = {"kind": kind, "layer": name, "weight": pname,
                       **_judge(want["float32"][(i, pname)], want["float64"][(i, pname)],
                                have["float32"], have["float64"])}
                if kind == "gradient":
                    rows.append(row)
                else:
                    later.append((ORDER.index(kind), index, row))
    rows += [row for _, _, row in sorted(later, key=lambda t: t[:2])]   # in forward order
    first = next((r for r in rows if any(m["mismatched"] or not m["shape_match"]
                                         for m in (r["float32"], r["float64"]))), None)
    verdict = {"status": "fail" if first else "pass",
               "first_diverging": None if first is None else
               {"kind": first["kind"], "layer": first["layer"], "weight": first["weight"]}}
    return {"loss": loss, "optimizer": optimizer, "hyperparameters": hyper,
            "torch_optimizer": "given" if torch_optimizer else "translated",
            "quantities": rows, "verdict": verdict}
