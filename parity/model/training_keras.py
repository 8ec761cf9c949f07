"""The Keras side of a training step, as its users write it: the model called with
``training=True`` inside ``tf.GradientTape`` (a multi-output model of the same layers gives the
layers' outputs, whose gradients the tape gives too, as Grad-CAM reads them) and the gradients
applied by a Keras optimizer, or ``compile`` and ``train_on_batch`` on a clone; every mapped
layer's forward value and the loss's gradient with respect to it; each layer's backward alone
(``isolated``: on its exact inputs of the step, taken back from its exact output gradient); the
loss both sides compute; the random layers made the identity. The caller's model is left as it
was."""
from __future__ import annotations

import numpy as np

from parity.model import dataflow
from parity.model.keras_graph import _call_args, _history_name, weights_by_name


def loss_value(framework: str, loss: str, out, target):
    """The mean loss of a batch: ``mse``, or ``crossentropy`` of logits and one-hot rows."""
    if framework == "keras":
        from parity.backends import tf as B

        tf, keras = B.tf(), B.keras()
        if loss == "mse":
            return tf.reduce_mean(tf.square(out - target))
        return tf.reduce_mean(keras.losses.categorical_crossentropy(target, out,
                                                                    from_logits=True))
    import torch

    if loss == "mse":
        return torch.mean((out - target) ** 2)
    return torch.nn.functional.cross_entropy(out, target.argmax(dim=1))


KERAS_RANDOM = {"Dropout": "rate", "SpatialDropout1D": "rate", "SpatialDropout2D": "rate",
                "SpatialDropout3D": "rate", "GaussianDropout": "rate", "AlphaDropout": "rate",
                "GaussianNoise": "stddev"}
"""Keras's random layers and the setting that makes each the identity at 0."""


def random_layers_off(model) -> list:
    """Every random layer of the Keras model made the identity (its rate or stddev 0: the
    masks of two frameworks cannot agree); returns what ``restore_random`` puts back."""
    saved = []
    for layer in model.layers:
        attr = KERAS_RANDOM.get(type(layer).__name__)
        if attr is not None:
            saved.append((layer, attr, getattr(layer, attr)))
            setattr(layer, attr, 0.0)
    return saved


def nudge_weights(keras, model, seed: int = 0) -> None:
    """Every float weight of ``model`` moved by one rounding, up or down (seeded), on the
    backend of ``keras``: how far the model's own training moves from such a change."""
    rng = np.random.default_rng(seed)
    for w in model.weights:
        v = np.asarray(keras.ops.convert_to_numpy(w))
        if np.issubdtype(v.dtype, np.floating):
            w.assign(v * (1 + np.finfo(v.dtype).eps * rng.choice([-1.0, 1.0], v.shape)))


def restore_random(saved: list) -> None:
    for layer, attr, value in saved:
        setattr(layer, attr, value)


def _call_kwargs(layer) -> dict:
    return {"training": True} if "training" in _call_args(layer) else {}


KERAS_STEPS = ("tape", "train_on_batch")
"""How Keras steps: ``tape``, a ``tf.GradientTape`` step and ``apply_gradients`` (eager);
``train_on_batch``, ``model.compile(optimizer, loss)`` and ``train_on_batch`` (Keras's own
compiled train step) on a clone of the model: the first step's layer values and gradients still
come from a tape, taken before it, and its updates from ``train_on_batch``."""


def keras_steps(kg, dtype: str, x, y, loss: str, make_optimizer, names: list[str],
                steps: int, nudge: bool = False, starts: dict | None = None,
                keras_step: str = "tape") -> dict:
    """``steps`` steps of the ``dtype`` model on one batch; the first with every layer of
    ``names``'s output (``forward``), its gradient (``output_gradient``) and its isolated
    backward (``isolated``, from the Keras layers ``starts[name]``, where the torch segment
    starts: ``{name: {"input": {source: grad}, weight: grad}}``); each with the loss,
    the weights' gradients and every weight after (``history``). ``nudge``: from weights each
    moved by one rounding, up or down (seeded): how far the model's own training moves."""
    from parity.backends import tf as B

    tf = B.tf()
    model = kg.model_for(dtype)
    probe = kg.probe(dtype)
    out_name = _history_name(model.outputs[0])
    before = [w.numpy() for w in model.weights]
    x_t, y_t = tf.constant(x), tf.constant(y)
    optimizer = make_optimizer() if keras_step == "tape" else None   # (else the clone's own)
    trainable = list(model.trainable_weights)
    result = {"history": []}
    random = random_layers_off(model)
    if nudge:
        nudge_weights(B.keras(), model)
    compiled = _compiled(model, loss, make_optimizer, dtype) \
        if keras_step == "train_on_batch" else None
    try:
        for s in range(steps):
            if compiled is not None and s > 0:
                result["history"].append(_train_on_batch(compiled, x_t, y_t, loss))
                continue
            with tf.GradientTape() as tape:
                tape.watch(x_t)   # the layers before the first weight are recorded too
                outs = probe(x_t, training=True)
                value = loss_value("keras", loss, outs[out_name], y_t)
            sources = [outs[n] for n in names] if s == 0 else []
            grads = tape.gradient(value, sources + trainable)
            if s == 0:
                result["forward"] = {n: outs[n].numpy() for n in names}
                result["output_gradient"] = {
                    n: (g.numpy() if g is not None else np.zeros(outs[n].shape, dtype))
                    for n, g in zip(names, grads[:len(names)])}
                values = {n: v.numpy() for n, v in outs.items()} | {kg.input_name: x}
                result["values"] = values
                result["isolated"] = {n: _keras_isolated(kg, model, n, values,
                                                         result["output_gradient"][n],
                                                         starts[n])
                                      for n in names}
            grads = grads[len(sources):]
            by_var = {id(v): g for v, g in zip(trainable, grads)}
            if compiled is not None:   # the clone steps from the weights the tape read
                record = _train_on_batch(compiled, x_t, y_t, loss, value)
            else:
                optimizer.apply_gradients([(g, v) for v, g in zip(trainable, grads)
                                           if g is not None])
                record = {"loss": float(value.numpy()), "after": _weights_now(model)}
            record["gradient"] = {(layer.name, short): by_var[id(w)].numpy()
                                  for layer in model.layers
                                  for short, w in weights_by_name(layer).items()
                                  if by_var.get(id(w)) is not None}
            result["history"].append(record)
    finally:
        for w, value in zip(model.weights, before):   # the caller's model is left as it was
            w.assign(value)
        restore_random(random)
    return result


def _compiled(model, loss: str, make_optimizer, dtype: str):
    """A clone of ``model`` (its weights, its dtype) compiled as a user compiles it, with the
    loss and the optimizer of the step; the caller's model is not compiled. The loss is made
    in the model's dtype: a Keras loss computes in ``floatx`` (float32) unless told, which
    would round a float64 model's gradients to float32."""
    from parity.backends import tf as B

    keras = B.keras()
    clone = keras.models.clone_model(model)
    clone.set_weights(model.get_weights())
    random_layers_off(clone)
    clone.compile(optimizer=make_optimizer(), loss=loss_object(keras, loss, dtype))
    return clone


def loss_object(keras, loss: str, dtype: str):
    """The Keras loss a user compiles with (``mse``, or ``crossentropy`` of logits), computing
    in the model's dtype, on the backend of ``keras``."""
    if loss == "mse":
        return keras.losses.MeanSquaredError(dtype=dtype)
    return keras.losses.CategoricalCrossentropy(from_logits=True, dtype=dtype)


def _train_on_batch(clone, x, y, loss: str, value=None) -> dict:
    """One ``train_on_batch`` of the compiled clone: the loss (``value``, else the clone's own
    forward in training mode, its statistics put back: ``train_on_batch`` reports the loss
    as a float32 metric) and every weight after."""
    if value is None:
        saved = [w.numpy() for w in clone.non_trainable_weights]
        value = loss_value("keras", loss, clone(x, training=True), y)
        for w, v in zip(clone.non_trainable_weights, saved):
            w.assign(v)
    clone.train_on_batch(x, y)
    return {"loss": float(np.asarray(value)), "gradient": {}, "after": _weights_now(clone)}


def _weights_now(model) -> dict:
    """{(layer, short name): value} of every weight of ``model``."""
    return {(layer.name, short): w.numpy() for layer in model.layers
            for short, w in weights_by_name(layer).items()}


def keras_starts(kg, tg, pairs, name: str) -> list[str]:
    """The Keras layers (the input by its name) whose values the torch segment of ``name``
    starts from: its own inputs, or, traced, those the dataflow finds (a pad the torch module
    does inside the pool starts the segment before Keras's ``ZeroPadding2D``)."""
    sources = kg.inputs_of[name]
    if tg.nodes is not None:
        sources = list(dataflow.upstream_values(kg, tg, pairs, name).values())
    return [kg.input_name if s == dataflow.KERAS_INPUT else s for s in sources]


def keras_segment(kg, name: str, sources: list[str]) -> list[str]:
    """The Keras layers that compute layer ``name`` from the values of ``sources`` (Keras
    layers, or the model's input by its name), in the model's order (``name`` included): the
    layers a torch segment starting at the sources' counterparts spans (a ``ZeroPadding2D`` the
    torch module pads inside its pool)."""
    needed, todo = set(), [name]
    while todo:
        n = todo.pop()
        if n in needed or n in sources or n == kg.input_name:
            continue
        needed.add(n)
        todo += kg.inputs_of[n]
    return [layer.name for layer in kg.layers if layer.name in needed]


def _keras_isolated(kg, model, name: str, values: dict, upstream, sources) -> dict:
    """Layer ``name`` alone (with the unmatched layers between it and ``sources``,
    ``keras_segment``) on the step's values of the sources, in training mode, its output's
    gradient ``upstream`` taken back: ``{"input": {source: grad}, short: grad}``."""
    from parity.backends import tf as B

    tf = B.tf()
    order = keras_segment(kg, name, sources)
    layers = [model.get_layer(n) for n in order]
    saved = [[w.numpy() for w in layer.weights] for layer in layers]   # BatchNorm's statistics
    ins = {src: tf.constant(values[src]) for src in dict.fromkeys(sources)}
    try:
        with tf.GradientTape() as tape:
            for t in ins.values():
                tape.watch(t)
            env = dict(ins)
            for n, layer in zip(order, layers):
                args = [env[src] for src in kg.inputs_of[n]]
                env[n] = layer(args if len(args) > 1 else args[0], **_call_kwargs(layer))
        weights = weights_by_name(layers[-1])
        trainable = [(short, w) for short, w in weights.items() if w.trainable]
        grads = tape.gradient(env[name], list(ins.values()) + [w for _, w in trainable],
                              output_gradients=tf.constant(upstream))
    finally:
        for layer, values_ in zip(layers, saved):
            for w, value in zip(layer.weights, values_):
                w.assign(value)
    found = {"input": {src: None if g is None else g.numpy()
                       for src, g in zip(ins, grads[:len(ins)])}}
    for (short, _), g in zip(trainable, grads[len(ins):]):
        if g is not None:
            found[short] = g.numpy()
    return found
