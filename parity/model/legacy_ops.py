"""The TensorFlow functions a Keras 2 (``tf_keras``) model calls as layers (``TFOpLambda``,
``SlicingOpLambda``: ``tf.clip_by_value``, ``x[:, 1:-1, 1:-1, :]``, ``tf.transpose``,
``tf.reshape``), as nobuco writes them, rebuilt in Keras 3.

Where the call is one Keras 3 layer's computation, it becomes that layer, so the model's
layers keep their kinds for matching: ``clip_by_value(x, 0, m)`` a ``ReLU(max_value=m)``, a
slice that trims the spatial borders a ``CroppingND``, ``transpose`` that keeps the batch axis
a ``Permute``, ``reshape(x, [n, -1])`` a ``Flatten``. Any other call becomes a ``Lambda``
calling the same TensorFlow function on the same arguments. ``parity.model.legacy`` checks
the rebuilt model against the original layer by layer either way.
"""
from __future__ import annotations

OP_LAYERS = ("TFOpLambda", "SlicingOpLambda")


def _is_tensor(v) -> bool:
    return hasattr(v, "_keras_history")


def _substitute(value, tensors: dict):
    """``value`` with each Keras 2 tensor in it replaced by the rebuilt tensor of its layer."""
    if _is_tensor(value):
        return tensors[value._keras_history.layer.name]  # noqa: SLF001 - tf_keras's graph record
    if isinstance(value, (list, tuple)):
        return type(value)(_substitute(v, tensors) for v in value)
    if isinstance(value, dict):
        return {k: _substitute(v, tensors) for k, v in value.items()}
    return value


def _tensor_args(args, kwargs) -> list:
    found = []

    def walk(v):
        if _is_tensor(v):
            found.append(v)
        elif isinstance(v, (list, tuple)):
            for x in v:
                walk(x)
        elif isinstance(v, dict):
            for x in v.values():
                walk(x)
    walk(args)
    walk(kwargs)
    return found


def _as_layer(keras, function: str, args, kwargs, name: str):
    """The Keras 3 layer computing ``function(*args, **kwargs)`` on its first argument alone,
    or None."""
    x, rest = args[0], dict(kwargs)
    # one tensor input; reshape's target shape may hold tensors (the batch size, read)
    others = (args[2:] if function == "reshape" else args[1:],
              {k: v for k, v in rest.items() if k != "shape"})
    if not _is_tensor(x) or _tensor_args(*others):
        return None
    rank = len(x.shape)
    if function == "clip_by_value":
        lo = rest.get("clip_value_min", args[1] if len(args) > 1 else None)
        hi = rest.get("clip_value_max", args[2] if len(args) > 2 else None)
        if isinstance(lo, (int, float)) and isinstance(hi, (int, float)) and lo == 0 and hi > 0:
            return keras.layers.ReLU(max_value=float(hi), name=name)
    if function == "__operators__.getitem" and 3 <= rank <= 5:
        spec = rest.get("slice_spec", args[1] if len(args) > 1 else None)
        if isinstance(spec, tuple):   # as called (x[:, 1:-1]); a file holds dicts
            spec = [{"start": v.start, "stop": v.stop, "step": v.step}
                    if isinstance(v, slice) else v for v in spec]
        if isinstance(spec, list) and len(spec) == rank:
            return _cropping(keras, x, spec, name)
    if function in ("transpose", "compat.v1.transpose"):
        perm = list(rest.get("perm", args[1] if len(args) > 1 else []))
        if len(perm) == rank and perm[0] == 0 and sorted(perm) == list(range(rank)):
            return keras.layers.Permute(tuple(perm[1:]), name=name)
    if function == "reshape":
        shape = rest.get("shape", args[1] if len(args) > 1 else None)
        if isinstance(shape, (list, tuple)) and len(shape) == 2 and shape[1] == -1:
            return keras.layers.Flatten(name=name)   # [batch, -1], the batch size read or given
    return None


def _cropping(keras, x, spec, name: str):
    """``x[:, a:-b, c:-d, :]`` as a ``CroppingND``, or None."""
    def whole(s):
        return isinstance(s, dict) and s.get("start") in (None, 0) and s.get("stop") is None \
            and s.get("step") in (None, 1)
    if not (whole(spec[0]) and whole(spec[-1])):
        return None
    crops = []
    for s, n in zip(spec[1:-1], x.shape[1:-1]):
        if not isinstance(s, dict) or s.get("step") not in (None, 1):
            return None
        start, stop = s.get("start") or 0, s.get("stop")
        if stop is None:
            end = 0
        elif stop < 0:
            end = -stop
        elif n is not None:
            end = n - stop
        else:
            return None
        if start < 0 or end < 0:
            return None
        crops.append((start, end))
    rank = len(spec) - 2
    cls = getattr(keras.layers, f"Cropping{rank}D")
    return cls(crops[0] if rank == 1 else tuple(crops), name=name)


def rebuild_op(keras, layer, tensors: dict):
    """The Keras 3 tensor of the Keras 2 op layer ``layer``, its inputs taken from ``tensors``
    ({Keras 2 layer name: rebuilt tensor})."""
    node = layer._inbound_nodes[0]  # noqa: SLF001
    args, kwargs = list(node.call_args), dict(node.call_kwargs)
    kwargs.pop("name", None)
    function = layer.get_config().get("function", "")
    as_layer = _as_layer(keras, function, args, kwargs, layer.name)
    if as_layer is not None:
        return as_layer(tensors[args[0]._keras_history.layer.name])  # noqa: SLF001
    inputs = _tensor_args(args, kwargs)
    names = [t._keras_history.layer.name for t in inputs]  # noqa: SLF001
    fn = layer.function

    def call(values):
        values = values if isinstance(values, (list, tuple)) else [values]
        by_name = dict(zip(names, values))
        return fn(*_substitute(args, by_name), **_substitute(kwargs, by_name))
    feeds = [tensors[n] for n in names]
    return keras.layers.Lambda(call, name=layer.name)(feeds if len(feeds) > 1 else feeds[0])
