"""What a user would write to compare one case by hand, per op family: the TF call and the torch
call with their gradients on the case's inputs, then one max-abs-diff (a KS distance for an
initializer) per output. Plain framework calls only, none of parity's side functions; each
function returns ``{output: difference}`` (None where a side refused or the shapes differ).
"""
from __future__ import annotations

import numpy as np

from parity.backends import tf as TB
from parity.backends import torch as PB


def _frameworks():
    return TB.tf(), PB.torch()  # imported with the thread settings both sides use


def _last(a):
    return np.moveaxis(a, 1, -1)


def _first(a):
    return np.moveaxis(a, -1, 1)


def _diffs(a: dict, b: dict) -> dict:
    return {k: (float(np.abs(a[k] - b[k]).max()) if a[k].shape == b[k].shape else None)
            for k in a if k in b}


def _same_pads(spatial, window, stride, dilation=None) -> list[int]:
    """F.pad's list (last dim first) for TF's SAME: total max((ceil(n/s)-1)s + d(k-1)+1 - n, 0),
    the smaller half before."""
    pads = []
    for n, k, s, d in reversed(list(zip(spatial, window, stride, dilation or [1] * len(window)))):
        total = max((-(-n // s) - 1) * s + d * (k - 1) + 1 - n, 0)
        pads += [total // 2, total - total // 2]
    return pads


def _torch_grads(torch, y, dy, tensors: dict) -> dict:
    y.backward(torch.tensor(dy, dtype=y.dtype))
    return {"y": y.detach().double().numpy(),
            **{f"d{n}": t.grad.double().numpy() for n, t in tensors.items()}}


def conv(c, inp) -> dict:
    """tf.nn.conv2d(SAME) vs F.pad + F.conv2d (float32, undilated, ungrouped)."""
    tf, torch = _frameworks()
    x = tf.constant(_last(inp["x"]), tf.float32)
    w = tf.constant(inp["w"].transpose(2, 3, 1, 0), tf.float32)
    sources = [x, w] + ([tf.constant(inp["b"], tf.float32)] if c.bias else [])
    with tf.GradientTape() as tape:
        tape.watch(sources)
        y = tf.nn.conv2d(x, w, c.stride, "SAME")
        if c.bias:
            y = tf.nn.bias_add(y, sources[2])
    grads = tape.gradient(y, sources, output_gradients=tf.constant(_last(inp["dy"]), tf.float32))
    a = {"y": _first(y.numpy()), "dx": _first(grads[0].numpy()),
         "dw": grads[1].numpy().transpose(3, 2, 0, 1)}
    if c.bias:
        a["db"] = grads[2].numpy()
    t = {n: torch.tensor(inp[n], dtype=torch.float32, requires_grad=True)
         for n in ("x", "w", "b") if n in inp}
    y = torch.nn.functional.conv2d(torch.nn.functional.pad(t["x"], _same_pads(c.spatial, c.kernel,
                                                                              c.stride)),
                                   t["w"], t.get("b"), c.stride)
    return _diffs(a, _torch_grads(torch, y, inp["dy"], t))


def pool(c, inp) -> dict:
    """tf.nn.max_pool2d(SAME) vs F.pad(-inf) + F.max_pool2d (float32)."""
    tf, torch = _frameworks()
    x = tf.constant(_last(inp["x"]), tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.nn.max_pool2d(x, c.window, c.stride, "SAME")
    dx = tape.gradient(y, x, output_gradients=tf.constant(_last(inp["dy"]), tf.float32))
    a = {"y": _first(y.numpy()), "dx": _first(dx.numpy())}
    t = {"x": torch.tensor(inp["x"], dtype=torch.float32, requires_grad=True)}
    padded = torch.nn.functional.pad(t["x"], _same_pads(c.spatial, c.window, c.stride),
                                     value=-float("inf"))
    y = torch.nn.functional.max_pool2d(padded, c.window, c.stride)
    return _diffs(a, _torch_grads(torch, y, inp["dy"], t))


def transpose(c, inp) -> dict:
    """tf.nn.conv_transpose(output_shape) vs F.conv_transpose2d with the textbook mapping of
    Keras's arguments (float32, undilated)."""
    tf, torch = _frameworks()
    x = tf.constant(_last(inp["x"]), tf.float32)
    w = tf.constant(inp["w"].transpose(2, 3, 1, 0), tf.float32)
    sources = [x, w] + ([tf.constant(inp["b"], tf.float32)] if c.bias else [])
    try:
        with tf.GradientTape() as tape:
            tape.watch(sources)
            y = tf.nn.conv_transpose(x, w, [c.batch, *c.out_spatial, c.out_channels], c.stride,
                                     c.padding.upper())
            if c.bias:
                y = tf.nn.bias_add(y, sources[2])
        grads = tape.gradient(y, sources, output_gradients=tf.constant(_last(inp["dy"]),
                                                                       tf.float32))
    except Exception:  # noqa: BLE001 - TF refuses the config: nothing to compare
        return {"y": None}
    a = {"y": _first(y.numpy()), "dx": _first(grads[0].numpy()),
         "dw": grads[1].numpy().transpose(3, 2, 0, 1)}
    if c.bias:
        a["db"] = grads[2].numpy()
    same = c.padding == "same"
    pad = tuple((k - 1) // 2 if same else 0 for k in c.kernel)
    out_pad = c.output_padding or tuple(s - 1 if same else 0 for s in c.stride)
    t = {n: torch.tensor(inp[n], dtype=torch.float32, requires_grad=True)
         for n in ("x", "w", "b") if n in inp}
    try:
        y = torch.nn.functional.conv_transpose2d(t["x"], t["w"], t.get("b"), c.stride, pad,
                                                 out_pad)
        if tuple(y.shape) != inp["dy"].shape:
            return {"y": None}
        return _diffs(a, _torch_grads(torch, y, inp["dy"], t))
    except RuntimeError:  # torch refuses the mapping (output_padding >= stride)
        return {"y": None}


def norm(c, inp) -> dict:
    """keras.layers.GroupNormalization vs F.group_norm (float32)."""
    tf, torch = _frameworks()
    keras = TB.keras()
    layer = keras.layers.GroupNormalization(groups=c.groups, epsilon=c.epsilon)
    layer.build((c.batch, *c.spatial, c.channels))
    layer.set_weights([inp["w"], inp["b"]])
    x = tf.constant(_last(inp["x"]), tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x)
    grads = tape.gradient(y, [x, layer.gamma.value, layer.beta.value],
                          output_gradients=tf.constant(_last(inp["dy"]), tf.float32))
    a = {"y": _first(y.numpy()), "dx": _first(grads[0].numpy()), "dw": grads[1].numpy(),
         "db": grads[2].numpy()}
    t = {n: torch.tensor(inp[n], dtype=torch.float32, requires_grad=True) for n in ("x", "w", "b")}
    y = torch.nn.functional.group_norm(t["x"], c.groups, t["w"], t["b"], c.epsilon)
    return _diffs(a, _torch_grads(torch, y, inp["dy"], t))


def init(c, inp) -> dict:
    """keras.initializers.HeNormal vs torch.nn.init.kaiming_normal_, draws pooled over the
    case's seeds, then scipy's two-sample KS distance."""
    from scipy import stats

    tf, torch = _frameworks()
    keras = TB.keras()
    fan = (c.in_channels // c.groups,)
    keras_shape = (c.in_channels, c.out_channels) if c.layer == "dense" else \
        (*c.kernel, *fan, c.out_channels)
    torch_shape = (c.out_channels, c.in_channels) if c.layer == "dense" else \
        (c.out_channels, *fan, *c.kernel)
    a = np.concatenate([keras.initializers.HeNormal(seed=s)(keras_shape).numpy().ravel()
                        for s in inp["tf"]])
    w = torch.empty(torch_shape)
    b = np.concatenate([torch.nn.init.kaiming_normal_(
        w, nonlinearity="relu", generator=torch.Generator().manual_seed(s)).numpy().ravel().copy()
        for s in inp["torch"]])  # a copy: the next draw refills the same weight
    return {"kernel": float(stats.ks_2samp(a, b).statistic)}


def decay(c, inp) -> dict:
    """A Keras optimizer step on a variable vs the torch optimizer with weight_decay (float32)."""
    tf, torch = _frameworks()
    keras = TB.keras()
    decoupled = c.strength if c.form == "decoupled" else None
    if c.optimizer == "sgd":
        opt = keras.optimizers.SGD(learning_rate=c.learning_rate, momentum=c.momentum,
                                   weight_decay=decoupled)
        topt = lambda ps: torch.optim.SGD(ps, lr=c.learning_rate, momentum=c.momentum,  # noqa
                                          weight_decay=c.strength)
    elif decoupled:
        opt = keras.optimizers.AdamW(learning_rate=c.learning_rate, weight_decay=decoupled)
        topt = lambda ps: torch.optim.AdamW(ps, lr=c.learning_rate, weight_decay=c.strength)  # noqa
    else:
        opt = keras.optimizers.Adam(learning_rate=c.learning_rate)
        topt = lambda ps: torch.optim.Adam(ps, lr=c.learning_rate, weight_decay=c.strength)  # noqa
    w = keras.Variable(inp["w"].astype("float32"))
    l2 = keras.regularizers.L2(c.strength)
    p = torch.tensor(inp["w"], dtype=torch.float32, requires_grad=True)
    popt = topt([p])
    a, b = {}, {}
    for t in range(c.steps):
        g = tf.constant(inp[f"g{t}"], tf.float32)
        with tf.GradientTape() as tape:
            v = w.value
            tape.watch(v)
            loss = tf.reduce_sum(g * v)
            if c.form == "keras_l2":
                loss += l2(v)
            elif c.form == "slim_l2":
                loss += c.strength * tf.nn.l2_loss(v)
        opt.apply_gradients([(tape.gradient(loss, v), w)])
        a[f"w{t}"] = w.value.numpy().astype(np.float64)
        p.grad = torch.tensor(inp[f"g{t}"], dtype=torch.float32)
        popt.step()
        b[f"w{t}"] = p.detach().double().numpy()
    return _diffs(a, b)


def resize(c, inp) -> dict:
    """tf.image.resize vs F.interpolate(align_corners=False) (float32)."""
    tf, torch = _frameworks()
    x = tf.constant(_last(inp["x"]), tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = tf.cast(tf.image.resize(x, c.size, method=c.method, antialias=c.antialias), tf.float32)
    try:
        dx = tape.gradient(y, x, output_gradients=tf.constant(_last(inp["dy"]), tf.float32))
    except Exception:  # noqa: BLE001 - no gradient kernel for this method: forward only
        dx = None
    a = {"y": _first(y.numpy())} | ({"dx": _first(dx.numpy())} if dx is not None else {})
    t = {"x": torch.tensor(inp["x"], dtype=torch.float32, requires_grad=True)}
    linear = c.method in ("bilinear", "bicubic")
    y = torch.nn.functional.interpolate(t["x"], size=c.size, mode=c.method,
                                        antialias=c.antialias,
                                        align_corners=False if linear else None)
    return _diffs(a, _torch_grads(torch, y, inp["dy"], t))


def mixed(c, inp) -> dict:
    """keras Conv2D(padding="same", dtype="mixed_<half>") vs F.pad + F.conv2d under autocast
    (undilated, ungrouped): y half, gradients float32."""
    tf, torch = _frameworks()
    keras = TB.keras()
    layer = keras.layers.Conv2D(c.out_channels, c.kernel, c.stride, padding="same",
                                use_bias=c.bias, dtype=f"mixed_{c.dtype}")
    layer.build((c.batch, *c.spatial, c.in_channels))
    layer.set_weights([inp["w"].transpose(2, 3, 1, 0)] + ([inp["b"]] if c.bias else []))
    x = tf.constant(_last(inp["x"]), tf.float32)
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = layer(x)
    variables = [x, layer.kernel.value] + ([layer.bias.value] if c.bias else [])
    grads = tape.gradient(y, variables,
                          output_gradients=tf.constant(_last(inp["dy"]), getattr(tf, c.dtype)))
    a = {"y": _first(tf.cast(y, tf.float64).numpy()), "dx": _first(grads[0].numpy()),
         "dw": grads[1].numpy().transpose(3, 2, 0, 1)}
    if c.bias:
        a["db"] = grads[2].numpy()
    t = {n: torch.tensor(inp[n], dtype=torch.float32, requires_grad=True)
         for n in ("x", "w", "b") if n in inp}
    with torch.autocast("cpu", dtype=getattr(torch, c.dtype)):
        y = torch.nn.functional.conv2d(
            torch.nn.functional.pad(t["x"], _same_pads(c.spatial, c.kernel, c.stride)),
            t["w"], t.get("b"), c.stride)
    return _diffs(a, _torch_grads(torch, y, inp["dy"], t))


FAMILIES = {
    # family: (op, the harness's variant doing the same framework work, bare, configs it takes)
    "conv": ("conv2d_same", "port", conv, lambda c: c.groups == 1 and max(c.dilation) == 1),
    "pool": ("max_pool2d_same", "port", pool, lambda c: c.fill == "uniform"),  # no NaN, no ties
    "transpose": ("conv_transpose2d", "native", transpose,
                  lambda c: max(c.dilation) == 1 and c.convention == "tf"),
    "norm": ("group_norm", "native", norm, lambda c: True),
    "init": ("init_he_normal", "native", init,
             lambda c: c.layer in ("dense", "conv1d", "conv2d", "conv3d")),
    "decay": ("weight_decay", "native", decay, lambda c: True),
    "resize": ("resize2d", "native", resize, lambda c: True),
    "mixed": ("conv2d_mixed", "port", mixed, lambda c: c.groups == 1 and max(c.dilation) == 1),
}
