"""The two sides of a training step, each as its users write it, with every mapped layer's
forward value (training mode) and the loss's gradient with respect to it captured, and each
layer's backward run alone (``isolated``): the layer fed Keras's exact input and Keras's exact
gradient of its output.

Keras: the model called with ``training=True`` inside ``tf.GradientTape`` (a multi-output model
of the same layers gives the layers' outputs, whose gradients the tape gives too, as Grad-CAM
reads them), the loss's gradients applied by a Keras optimizer. torch: ``module.train()``,
``loss.backward()``, ``optimizer.step()``; a layer's output is tapped by an identity autograd
function (a clone: a later in-place op, ``ReLU(inplace=True)``, rewrites the clone's successor,
never the value or the gradient taken). Both leave the caller's models as they were.
"""
from __future__ import annotations

import copy

import numpy as np

from parity.model import dataflow
from parity.model.keras_graph import _history_name, weights_by_name
from parity.model.torch_graph import _np, module_name, modules_of


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


def restore_random(saved: list) -> None:
    for layer, attr, value in saved:
        setattr(layer, attr, value)


def torch_random_off(module) -> list[str]:
    """Every dropout module of ``module`` (a copy) made the identity (``p = 0``)."""
    import torch

    found = []
    for name, m in module.named_modules():
        if isinstance(m, (torch.nn.modules.dropout._DropoutNd,   # noqa: SLF001
                          torch.nn.AlphaDropout, torch.nn.FeatureAlphaDropout)):
            m.p = 0.0
            found.append(name)
    return found


def _call_kwargs(layer) -> dict:
    code = getattr(type(layer).call, "__code__", None)
    args = code.co_varnames[:code.co_argcount] if code else ()
    return {"training": True} if "training" in args else {}


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
    optimizer = make_optimizer()
    trainable = list(model.trainable_weights)
    result = {"history": []}
    random = random_layers_off(model)
    if nudge:
        rng = np.random.default_rng(0)
        for w in model.weights:
            v = w.numpy()
            if np.issubdtype(v.dtype, np.floating):
                w.assign(v * (1 + np.finfo(v.dtype).eps * rng.choice([-1.0, 1.0], v.shape)))
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
                record["gradient"] = _by_layer(model, by_var)
                result["history"].append(record)
                continue
            optimizer.apply_gradients([(g, v) for v, g in zip(trainable, grads)
                                       if g is not None])
            record = {"loss": float(value.numpy()), "gradient": {}, "after": {}}
            for layer in model.layers:
                for short, w in weights_by_name(layer).items():
                    if by_var.get(id(w)) is not None:
                        record["gradient"][(layer.name, short)] = by_var[id(w)].numpy()
                    record["after"][(layer.name, short)] = w.numpy()
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
    clone.compile(optimizer=make_optimizer(),
                  loss=keras.losses.MeanSquaredError(dtype=dtype) if loss == "mse" else
                  keras.losses.CategoricalCrossentropy(from_logits=True, dtype=dtype))
    return clone


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
    record = {"loss": float(np.asarray(value)), "gradient": {}, "after": {}}
    for layer in clone.layers:
        for short, w in weights_by_name(layer).items():
            record["after"][(layer.name, short)] = w.numpy()
    return record


def _by_layer(model, by_var: dict) -> dict:
    return {(layer.name, short): by_var[id(w)].numpy() for layer in model.layers
            for short, w in weights_by_name(layer).items() if by_var.get(id(w)) is not None}


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


def _tap_class():
    import torch

    class Tap(torch.autograd.Function):
        """The identity, keeping the gradient that reaches it in ``store[key]``."""

        @staticmethod
        def forward(ctx, x, key, store):
            ctx.key, ctx.store = key, store
            return x.clone()

        @staticmethod
        def backward(ctx, g):
            ctx.store[ctx.key] = g.detach().cpu().numpy().copy()
            return g, None, None
    return Tap


def torch_steps(tg, dtype: str, x, y, loss: str, make_optimizer, taps: list[str],
                steps: int, isolate=None) -> dict:
    """``steps`` steps of the ``dtype`` copy of the torch module (a fresh copy: the caller's
    copies are left as they were), the first with the output of every node of ``taps`` and
    its gradient captured; ``isolate(module, forward values)``, where given, runs on a copy of
    the weights before the step (the isolated backward). Returns as ``keras_steps`` does, in
    torch's names."""
    base = copy.deepcopy(tg.copy_for(dtype))
    result = {"random_off": torch_random_off(base)}
    module = copy.deepcopy(base)
    before = copy.deepcopy(base) if isolate is not None else None
    result["history"] = []
    module.train()
    optimizer = make_optimizer(module.parameters())
    xt, target = tg.tensor(x, dtype), tg.tensor(y, dtype)
    xt.requires_grad_(True)   # the layers before the first weight are recorded too
    for s in range(steps):
        values, grads = {}, {}
        out = _tapped_forward(tg, module, xt, taps if s == 0 else [], values, grads)
        value = loss_value("torch", loss, out, target)
        module.zero_grad(set_to_none=True)
        value.backward()
        if s == 0:
            result["forward"], result["output_gradient"] = values, grads
        record = {"loss": float(value.detach()),
                  "gradient": {n: p.grad.detach().numpy().copy()
                               for n, p in module.named_parameters() if p.grad is not None}}
        optimizer.step()
        record["after"] = {n: t.detach().numpy().copy() for n, t in
                           [*module.named_parameters(), *module.named_buffers()]}
        result["history"].append(record)
    if isolate is not None:
        result["isolated"] = isolate(before, result.get("forward", {}))
    return result


def _tapped_forward(tg, module, xt, taps: list[str], values: dict, grads: dict):
    """The module's output on ``xt``, the nodes (labels) of ``taps`` tapped: their values in
    ``values``, their gradients, once the loss is taken back, in ``grads``."""
    torch = tg.torch
    Tap = _tap_class()
    wanted = set(taps)

    def tap(label, out):
        if label not in wanted or not isinstance(out, torch.Tensor) or \
                not out.is_floating_point():
            return out
        values[label] = _np(out)
        return Tap.apply(out, label, grads)
    if not wanted or tg._graph is None:   # noqa: SLF001 - the traced graph, or hooks
        handles, seen = [], {}
        named = dict(module.named_modules())
        for label in wanted:
            def hook(_m, _args, out, name=module_name(label)):
                k = seen.get(name, 0)
                seen[name] = k + 1
                return tap(name if k == 0 else f"{name}#{k}", out)
            if module_name(label) in named:
                handles.append(named[module_name(label)].register_forward_hook(hook))
        try:
            return module(xt)
        finally:
            for h in handles:
                h.remove()
    fx = torch.fx
    by_fx = tg._labels   # noqa: SLF001

    class Tapped(fx.Interpreter):
        def run_node(self, n):
            out = super().run_node(n)
            return out if n.op == "output" else tap(by_fx[n.name], out)
    return Tapped(fx.GraphModule(module, tg._graph)).run(xt)   # noqa: SLF001


def torch_isolated(kg, tg, pairs, names: list[str], keras_values: dict, upstream: dict,
                   layout):
    """A function of a module (a copy of the torch weights before the step) giving, for each
    Keras layer of ``names``, its torch counterpart alone in training mode, fed Keras's inputs
    (``keras_values``: Keras-layout values by Keras layer, the input as ``KERAS_INPUT``;
    ``layout(name, value, keras source, torch label, torch forward values)`` puts one in the
    torch node's layout) and
    taken back from Keras's gradient of the output (``upstream[name]``, already in the torch
    node's layout): ``{name: {"input": {keras source: grad}, param name: grad}}``, or
    ``{name: {"error": text}}``."""
    def run(module, forward: dict):
        torch = tg.torch
        module.train()
        found = {}
        named = {m: n for n, m in module.named_modules()}
        for name in names:
            labels = dict(pairs)[name]
            try:
                module.zero_grad(set_to_none=True)
                if tg.nodes is not None:
                    starts = dataflow.upstream_values(kg, tg, pairs, name)
                else:   # the Keras layer's inputs, in order, fed to its modules in turn
                    starts = {f"<{i}>": src for i, src in enumerate(kg.inputs_of[name])}
                ins = {s: torch.tensor(layout(name, keras_values[k], k, s, forward),
                                       requires_grad=True) for s, k in starts.items()}
                fed = {s: t.clone() for s, t in ins.items()}   # in-place ops write the clone
                if tg.nodes is not None:
                    out = _segment(tg, module, labels[-1], fed)
                else:
                    out = list(fed.values())
                    for m in modules_of(module, labels):
                        out = [m(*out)]
                    out = out[0]
                g = torch.from_numpy(np.ascontiguousarray(upstream[name])).to(out.dtype)
                out.backward(g.reshape(out.shape))
                entry = {"input": {k: (None if ins[s].grad is None else _np(ins[s].grad))
                                   for s, k in starts.items()}}
                for m in modules_of(module, labels):
                    prefix = named[m]
                    for pname, p in m.named_parameters(recurse=False):
                        if p.grad is not None:
                            entry[f"{prefix}.{pname}" if prefix else pname] = _np(p.grad)
                found[name] = entry
            except Exception as e:  # noqa: BLE001 - the layer refusing Keras's values
                found[name] = {"error": f"{type(e).__name__}: {str(e).splitlines()[0][:200]}"}
        return found
    return run


def _segment(tg, module, output: str, ins: dict):
    """The traced segment computing node ``output`` from ``ins`` ({label: tensor}), with
    autograd (``TorchGraph.call_segment``'s walk, in training mode)."""
    fx = tg.torch.fx
    labels = set(tg.segment(output, set(ins)))
    env = dict(ins)
    named = dict(module.named_modules())
    for n, node in zip((m for m in tg._graph.nodes if m.op != "output"), tg.nodes):  # noqa: SLF001
        if node.label not in labels:
            continue
        args = fx.node.map_arg(n.args, lambda a: env[tg._labels[a.name]])   # noqa: SLF001
        kwargs = fx.node.map_arg(n.kwargs, lambda a: env[tg._labels[a.name]])   # noqa: SLF001
        if n.op == "call_module":
            env[node.label] = named[n.target](*args, **kwargs)
        elif n.op == "call_function":
            env[node.label] = n.target(*args, **kwargs)
        elif n.op == "call_method":
            env[node.label] = getattr(args[0], n.target)(*args[1:], **kwargs)
        elif n.op == "get_attr":
            env[node.label] = tg.attribute(module, n.target)
    return env[output]
