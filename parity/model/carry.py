"""Keras weights into the mapped torch modules, converted to torch's layouts.

Conv kernels ``(*k, in, out)`` -> ``(out, in, *k)``; depthwise ``(*k, C, M)`` -> ``(C*M, 1, *k)``;
transposed ``(*k, out, in)`` -> ``(in, out, *k)``; Dense ``(in, out)`` -> ``(out, in)``, with the
rows reordered from Keras's channels-last flatten order ``(h, w, c)`` to torch's ``(c, h, w)``
when the Dense layer reads a ``Flatten`` of an image; BatchNormalization gamma, beta, moving mean
and variance -> weight, bias, running_mean, running_var. Hyperparameters are *checked*, never
changed (a comparison must not repair the module it judges): torch's BatchNorm momentum must be
``1 - keras momentum`` and its eps Keras's epsilon; each mismatch is listed.
"""
from __future__ import annotations

import math

import numpy as np

from parity.core import layout
from parity.model.keras_graph import weights_by_name
from parity.model.torch_graph import module_name, modules_of, weighted_labels


_KERNEL = {"conv": layout.kernel_tf_to_torch, "depthwise": layout.depthwise_tf_to_torch,
           "transpose": layout.transpose_kernel_tf_to_torch}


def flatten_source_shape(kgraph, name: str) -> tuple | None:
    """The (h, w, ..., c) shape a Dense layer's Flatten input had, or None (also where the
    torch side flattens in Keras's order: ``kgraph.flattens_as_keras``)."""
    if name in getattr(kgraph, "flattens_as_keras", ()):
        return None
    src = kgraph.inputs_of[name][0]
    while src in kgraph.by_name and kgraph.kind(src) in ("dropout", "activation"):
        src = kgraph.inputs_of[src][0]
    layer = kgraph.by_name.get(src)
    if layer is None or type(layer).__name__ != "Flatten":
        return None
    shape = tuple(layer.input.shape[1:])
    return shape if len(shape) >= 2 else None


def dense_kernel_to_torch(kernel: np.ndarray, flat_shape: tuple | None) -> np.ndarray:
    """Keras Dense kernel (in, out) -> torch Linear weight (out, in); with ``flat_shape``
    (h, w, c) the input rows are reordered from h-w-c to c-h-w (torch flattens NCHW)."""
    if flat_shape is not None:
        r = len(flat_shape)
        k = kernel.reshape(*flat_shape, kernel.shape[1])
        k = np.transpose(k, (r - 1,) + tuple(range(r - 1)) + (r,))
        kernel = k.reshape(-1, kernel.shape[1])
    return np.ascontiguousarray(kernel.T)


def _named(layer) -> dict:
    return {k: np.asarray(w.numpy()) for k, w in weights_by_name(layer).items()}


def expected(kgraph, name: str, modules: list, channels_first: bool = True,
             weights: dict | None = None) -> dict:
    """{(module index, torch parameter name): array} a correct torch counterpart holds (of the
    layer's own weights, or of ``weights`` given in their place, by short name)."""
    layer, kind = kgraph.by_name[name], kgraph.kind(name)
    w = _named(layer) if weights is None else weights
    out = {}
    if kind in _KERNEL:
        out[(0, "weight")] = _KERNEL[kind](w["kernel"])
        if "bias" in w:
            out[(0, "bias")] = w["bias"]
    elif kind == "separable":
        out[(0, "weight")] = layout.depthwise_tf_to_torch(w["depthwise_kernel"])
        out[(1, "weight")] = layout.kernel_tf_to_torch(w["pointwise_kernel"])
        if "bias" in w:
            out[(1, "bias")] = w["bias"]
    elif kind == "dense":
        flat = flatten_source_shape(kgraph, name) if channels_first else None
        out[(0, "weight")] = dense_kernel_to_torch(w["kernel"], flat)
        if "bias" in w:
            out[(0, "bias")] = w["bias"]
    elif kind == "batchnorm":
        m = modules[0]
        keras_names = {"gamma": ("weight", "gamma"), "beta": ("bias", "beta"),
                       "moving_mean": ("running_mean", "moving_mean"),
                       "moving_variance": ("running_var", "moving_variance")}
        for k, (torch_name, port_name) in keras_names.items():
            target = torch_name if hasattr(m, torch_name) and getattr(m, torch_name) is not None \
                else port_name
            if k in w:
                out[(0, target)] = w[k]
            elif k in ("gamma", "beta") and getattr(m, target, None) is not None:
                out[(0, target)] = np.full(m.num_features if hasattr(m, "num_features")
                                           else getattr(m, target).numel(),
                                           1.0 if k == "gamma" else 0.0)
    elif kind in ("layernorm", "groupnorm"):
        if "gamma" in w:
            out[(0, "weight")] = w["gamma"]
        if "beta" in w:
            out[(0, "bias")] = w["beta"]
    return {k: np.ascontiguousarray(v) for k, v in out.items()}


def hyperparameters(kgraph, name: str, modules: list) -> list[str]:
    """What a torch counterpart's settings get wrong (BatchNorm momentum and epsilon, norm eps,
    a convolution's stride and dilation: ResNet v1.5's stride on the 3x3 conv)."""
    if not modules:   # computed by forward's code (x + y): no settings
        return []
    layer, kind, m = kgraph.by_name[name], kgraph.kind(name), modules[0]
    issues = []
    if kind == "batchnorm":
        eps = getattr(m, "eps", getattr(m, "epsilon", None))
        if eps is not None and not math.isclose(eps, layer.epsilon, rel_tol=1e-6):
            issues.append(f"eps {eps:g} (Keras epsilon {layer.epsilon:g})")
        if hasattr(m, "running_mean"):  # torch's meaning of momentum
            want = 1 - layer.momentum
            if m.momentum is None or not math.isclose(m.momentum, want, rel_tol=1e-6):
                issues.append(f"momentum {m.momentum} (Keras momentum {layer.momentum:g} means "
                              f"torch momentum {want:g})")
        elif hasattr(m, "moving_mean") and not math.isclose(m.momentum, layer.momentum,
                                                             rel_tol=1e-6):
            issues.append(f"momentum {m.momentum} (Keras momentum {layer.momentum:g})")
    elif kind in ("layernorm", "groupnorm"):
        eps = getattr(m, "eps", None)
        if eps is not None and not math.isclose(eps, layer.epsilon, rel_tol=1e-6):
            issues.append(f"eps {eps:g} (Keras epsilon {layer.epsilon:g})")
    elif kind in ("conv", "depthwise", "transpose"):
        for torch_name, keras_name in (("stride", "strides"), ("dilation", "dilation_rate")):
            have, want = getattr(m, torch_name, None), getattr(layer, keras_name, None)
            if have is not None and want is not None and tuple(have) != tuple(want):
                issues.append(f"{torch_name} {tuple(have)} (Keras {keras_name} {tuple(want)})")
    return issues


def folded(kgraph, name: str, channels_first: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """(scale or W, shift) in float64 that ``x * scale + shift`` (a BatchNormalization in
    inference) or ``x @ W + b`` (a Dense) computes the Keras layer with."""
    layer, kind = kgraph.by_name[name], kgraph.kind(name)
    w = {k: v.astype(np.float64) for k, v in _named(layer).items()}
    if kind == "batchnorm":
        n = w["moving_mean"].shape[0]
        scale = w.get("gamma", np.ones(n)) / np.sqrt(w["moving_variance"] + layer.epsilon)
        return scale, w.get("beta", np.zeros(n)) - w["moving_mean"] * scale
    flat = flatten_source_shape(kgraph, name) if channels_first else None
    kernel = dense_kernel_to_torch(w["kernel"], flat).T
    return kernel, w.get("bias", np.zeros(kernel.shape[1]))


def _load_chain(kgraph, tgraph, name: str, paths: list[str], channels_first: bool,
                assigned: set, problems: list) -> None:
    """Keras's weights folded into the constants of a converter's chain (``folded``): float32
    values in the module, and the float64 values kept exact for its float64 copy."""
    torch = tgraph.torch
    for path, value in zip(paths, folded(kgraph, name, channels_first)):
        target = tgraph.attribute(tgraph.module, path)
        if target.numel() != value.size:
            problems.append(f"{name}: torch constant {path} holds {target.numel()} values, "
                            f"Keras's folded weights {value.size}: not carried")
            continue
        shaped = value.reshape(tuple(target.shape))
        with torch.no_grad():
            target.copy_(torch.from_numpy(shaped).to(target.dtype))
        tgraph.exact[path] = shaped
        assigned.add(path)


def load(kgraph, tgraph, pairs, channels_first: bool = True) -> dict:
    """Copy every mapped layer's weights; return the carry report."""
    from parity.model.torch_graph import chain_constants

    torch = tgraph.torch
    assigned, layers, problems = set(), [], []
    for name, labels in pairs:
        paths = chain_constants(tgraph, labels)
        if paths is not None:
            _load_chain(kgraph, tgraph, name, paths, channels_first, assigned, problems)
            continue
        modules = modules_of(tgraph.module, labels)
        named = weighted_labels(tgraph.module, labels)
        want = expected(kgraph, name, modules, channels_first)
        for (i, pname), value in want.items():
            mod_name = module_name(named[i])
            target = getattr(modules[i], pname, None)
            if target is None:
                problems.append(f"{name}: torch module {mod_name!r} has no {pname!r} for Keras's "
                                f"{tuple(value.shape)} values")
                continue
            if tuple(target.shape) != tuple(value.shape):
                problems.append(f"{name}: torch {mod_name}.{pname} has shape "
                                f"{tuple(target.shape)}, Keras's converted weights "
                                f"{tuple(value.shape)}: not carried")
                continue
            with torch.no_grad():
                target.copy_(torch.from_numpy(value).to(target.dtype))
            assigned.add(f"{mod_name}.{pname}" if mod_name else pname)
        layers.append({"layer": name, "torch": labels,
                       "hyperparameters": hyperparameters(kgraph, name, modules)})
    return account(kgraph, tgraph, pairs, assigned) | {"problems": problems}


_BASE = 2.0 ** 40
"""Where the element indices pushed through the conversion start: above any value it makes up."""


def load_into_keras(kgraph, tgraph, pairs, channels_first: bool = True) -> dict:
    """The other direction, for a model ported from torch to Keras: copy every mapped torch
    module's weights into the Keras layer, converted to Keras's layouts; the carry report.

    The conversion is ``expected``'s, inverted exactly: each Keras weight's element indices are
    pushed through it, so every torch element lands where the forward carry would have taken
    it from (a weight the conversion does not determine, such as a BatchNorm's missing gamma,
    is left as it is)."""
    from parity.model.torch_graph import chain_constants

    assigned, problems = set(), []
    for name, labels in pairs:
        if chain_constants(tgraph, labels) is not None:
            problems.append(f"{name}: folded into the constants of a converter's chain: "
                            "not carried into Keras (the fold cannot be undone)")
            continue
        modules = modules_of(tgraph.module, labels)
        named = weighted_labels(tgraph.module, labels)
        current = _named(kgraph.by_name[name])
        if not current:
            continue
        offsets, start = {}, 0
        for k, v in current.items():
            offsets[k] = start
            start += v.size
        index = {k: _BASE + np.arange(offsets[k], offsets[k] + v.size,
                                      dtype=np.float64).reshape(v.shape)
                 for k, v in current.items()}
        flat = np.concatenate([v.ravel().astype(np.float64) for v in current.values()])
        for (i, pname), where in expected(kgraph, name, modules, channels_first, index).items():
            mod_name = module_name(named[i])
            source = getattr(modules[i], pname, None)
            if source is None or tuple(source.shape) != tuple(where.shape):
                have = "none" if source is None else f"shape {tuple(source.shape)}"
                problems.append(f"{name}: torch {mod_name}.{pname} ({have}) does not take "
                                f"Keras's {tuple(where.shape)} values: not carried")
                continue
            if not (where >= _BASE).all():   # a value the conversion makes up (gamma 1)
                continue
            positions = (where.ravel() - _BASE).astype(np.int64)
            flat[positions] = source.detach().cpu().numpy().astype(np.float64).ravel()
            assigned.add(f"{mod_name}.{pname}" if mod_name else pname)
        for k, w in weights_by_name(kgraph.by_name[name]).items():
            part = flat[offsets[k]:offsets[k] + current[k].size].reshape(current[k].shape)
            w.assign(part.astype(current[k].dtype))
    return account(kgraph, tgraph, pairs, assigned) | {"problems": problems}


def counterparts(kgraph, tgraph, pairs, channels_first: bool = True) -> set[str]:
    """The torch parameters, buffers and constants that a mapped Keras weight corresponds to
    (what ``load`` would carry into), without carrying: with ``--no-carry`` the accounting
    lists as unmatched only what has no Keras counterpart."""
    from parity.model.torch_graph import chain_constants

    found = set()
    for name, labels in pairs:
        paths = chain_constants(tgraph, labels)
        if paths is not None:
            found |= set(paths)
            continue
        modules = modules_of(tgraph.module, labels)
        named = weighted_labels(tgraph.module, labels)
        for (i, pname), value in expected(kgraph, name, modules, channels_first).items():
            target = getattr(modules[i], pname, None)
            if target is not None and tuple(target.shape) == tuple(value.shape):
                mod_name = module_name(named[i])
                found.add(f"{mod_name}.{pname}" if mod_name else pname)
    return found


def account(kgraph, tgraph, pairs, assigned: set) -> dict:
    """Which Keras weights and torch parameters/buffers have no counterpart (names, shapes,
    counts)."""
    mapped = {name for name, _ in pairs}
    keras_left = [{"name": w.path, "shape": list(w.shape), "count": int(np.prod(w.shape))}
                  for layer in kgraph.layers if layer.name not in mapped for w in layer.weights]
    keras_total = int(sum(np.prod(w.shape) for w in kgraph.model.weights))
    torch_left, torch_params, torch_buffers = [], 0, 0
    # integer tensors (BatchNorm's num_batches_tracked, a converter's shapes, axes and
    # indices) are not weights: counted nowhere
    for n, p in tgraph.module.named_parameters():
        if not p.is_floating_point():
            continue
        torch_params += p.numel()
        if n not in assigned:
            torch_left.append({"name": n, "shape": list(p.shape), "count": p.numel(),
                               "kind": "parameter"})
    for n, b in tgraph.module.named_buffers():
        if not b.is_floating_point():
            continue
        torch_buffers += b.numel()
        if n not in assigned:
            torch_left.append({"name": n, "shape": list(b.shape), "count": b.numel(),
                               "kind": "buffer"})
    return {"keras_weights": keras_total, "torch_parameters": torch_params,
            "torch_buffers": torch_buffers, "keras_unmatched": keras_left,
            "torch_unmatched": torch_left,
            "keras_unmatched_count": int(sum(w["count"] for w in keras_left)),
            "torch_unmatched_count": int(sum(w["count"] for w in torch_left))}


def check(kgraph, tgraph, pairs, channels_first: bool = True) -> dict:
    """Without carrying: for each mapped layer, whether the torch weights equal Keras's under the
    conversion, and if not which common mistake they equal (``weight_mistake``)."""

    from parity.model.torch_graph import chain_constants

    out = {}
    for name, labels in pairs:
        if chain_constants(tgraph, labels) is not None:
            out[name] = ["folded into the constants of a converter's chain: not checked"]
            continue
        modules = modules_of(tgraph.module, labels)
        named = weighted_labels(tgraph.module, labels)
        for (i, pname), value in expected(kgraph, name, modules, channels_first).items():
            target = getattr(modules[i], pname, None)
            have = None if target is None else target.detach().cpu().numpy().astype(np.float64)
            if have is not None and have.shape == value.shape and \
                    np.allclose(have, value, rtol=1e-6, atol=0):
                continue
            out.setdefault(name, []).append(
                f"{named[i]}.{pname}: " + weight_mistake(kgraph, name, pname, have, value))
    return out


def weight_mistake(kgraph, name: str, pname: str, have, want) -> str:
    """What a torch parameter that differs from Keras's converted weights equals instead."""
    if have is None:
        return "missing"
    if have.shape != want.shape:
        return f"shape {tuple(have.shape)}, Keras's converted {tuple(want.shape)}"
    close = lambda a: a.shape == have.shape and np.allclose(have, a, rtol=1e-6)  # noqa: E731
    layer, kind = kgraph.by_name[name], kgraph.kind(name)
    if want.ndim >= 4 and close(np.swapaxes(want, -1, -2)):
        return "the kernel's spatial axes are swapped (Keras (kh, kw, in, out) permuted " \
               "(3, 2, 1, 0) instead of (3, 2, 0, 1))"
    if kind == "dense" and pname == "weight":

        kernel = layer.kernel.numpy()
        flat = flatten_source_shape(kgraph, name)
        if flat is not None and close(dense_kernel_to_torch(kernel, None)):
            return (f"rows in Keras's flatten order {tuple(flat)} (h, w, c); torch flattens "
                    "(c, h, w): reorder them (flatten-order mistake)")
        if have.shape == kernel.shape and close(kernel):
            return "the Keras kernel (in, out) copied without transposing"
    kernel = getattr(layer, "kernel", None)
    if kernel is not None and pname == "weight" and np.size(kernel) == have.size and \
            close(np.reshape(kernel.numpy(), have.shape)):
        return "the Keras kernel reshaped instead of transposed"
    diff = float(np.max(np.abs(have - want)))
    return f"differ from Keras's converted weights (max |diff| {diff:.3g})"
