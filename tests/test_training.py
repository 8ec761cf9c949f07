"""Training steps compared (parity.model.training): a twin with Keras's BatchNorm semantics
passes on every quantity (forward in training mode, loss, output and weight gradients
propagated and isolated, statistics, update); torch's BatchNorm2d (unbiased running variance)
is caught in the statistics with its mechanism; a BatchNorm written another way that updates as
Keras does passes; a layer whose forward is right and whose backward is wrong is caught in the
isolated backward at its layer (a mapped conv), or at the layer whose torch segment holds it (a
module of no known kind)."""
import numpy as np
import pytest

from parity.model import ModelError, training
from parity.model.zoo_twins import ports_twin

import training_models


@pytest.fixture(scope="module")
def cnn():
    return training_models.cnn()


def _first(result):
    f = result["verdict"]["first_diverging"]
    return None if f is None else (f["kind"], f["layer"], f["weight"])


def test_a_twin_with_keras_batchnorm_semantics_agrees_on_every_quantity(cnn):
    model, x, y = cnn
    before = [w.copy() for w in model.get_weights()]
    result = training.step(model, ports_twin("keras"), x, y, learning_rate=0.1, momentum=0.9)
    assert result["verdict"]["status"] == "pass", _first(result)
    rows = result["quantities"]
    kinds = [q["kind"] for q in rows]
    assert set(kinds) == {"forward", "loss", "output_gradient", "isolated_gradient", "gradient",
                          "statistics", "update"}
    assert kinds.index("loss") == kinds.count("forward") == 12   # every mapped layer, first
    grads = [q for q in rows if q["kind"] == "gradient"]
    assert [q["layer"] for q in grads][:2] == ["logits", "logits"]   # from the output back
    assert len(grads) == 16 and all(q["float64"]["bound_ratio"] < 1 for q in grads)
    isolated = {(q["layer"], q["weight"]) for q in rows if q["kind"] == "isolated_gradient"}
    assert ("conv2", "input") in isolated and ("conv2", "weight") in isolated
    assert ("bn1", "gamma") in isolated and ("relu1", "input") in isolated   # KerasBatchNorm
    assert all(q["float64"]["bound_ratio"] < 1 for q in rows)
    assert all(np.array_equal(a, b) for a, b in zip(before, model.get_weights()))  # untouched


def test_torch_batchnorm_is_caught_in_the_running_variance(cnn):
    """BatchNorm2d(eps=1e-3, momentum=0.01) is right in inference; in training it updates the
    running variance with the unbiased batch variance, Keras with the biased one."""
    model, x, y = cnn
    result = training.step(model, ports_twin(), x, y, learning_rate=0.1)
    assert _first(result) == ("statistics", "bn1", "running_var")
    means = [q for q in result["quantities"] if q["weight"] == "running_mean"]
    assert all(q["float64"]["bound_ratio"] < 1 for q in means)   # the means agree
    cause = result["verdict"]["cause"]
    assert "the unbiased batch variance" in cause["text"]
    assert cause["registry"] == ["batchnorm-momentum-meaning"]
    assert set(result["verdict"]["first_by_stage"]) == {"statistics"}   # nothing else parts


def _biased_batchnorm(c):
    """A BatchNorm written another way (torch's momentum convention, torch.var_mean) that
    updates its running variance with the biased batch variance, as Keras does."""
    import torch
    import torch.nn as nn

    class BiasedBatchNorm2d(nn.BatchNorm2d):
        def forward(self, x):
            if not self.training:
                return super().forward(x)
            var, mean = torch.var_mean(x, dim=(0, 2, 3), unbiased=False)
            with torch.no_grad():
                self.running_mean.mul_(1 - self.momentum).add_(self.momentum * mean)
                self.running_var.mul_(1 - self.momentum).add_(self.momentum * var)
            shape = (1, -1, 1, 1)
            return (x - mean.view(shape)) / torch.sqrt(var.view(shape) + self.eps) * \
                self.weight.view(shape) + self.bias.view(shape)
    return BiasedBatchNorm2d(c, eps=1e-3, momentum=0.01)


def _replace(seq, index, module):
    seq[index] = module
    return seq


def test_a_batchnorm_written_differently_that_updates_as_keras_does_passes(cnn):
    model, x, y = cnn
    twin = ports_twin()
    for i in (1, 4, 7):
        _replace(twin, i, _biased_batchnorm(twin[i].num_features))
    result = training.step(model, twin, x, y, learning_rate=0.1)
    assert result["verdict"]["status"] == "pass", _first(result)


def _straight_through_relu():
    """ReLU's forward, and a backward that lets the gradient through where x < 0 too."""
    import torch

    class Fn(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x.clamp(min=0)

        @staticmethod
        def backward(ctx, g):
            return g

    class StraightThroughReLU(torch.nn.Module):
        def forward(self, x):
            return Fn.apply(x)
    return StraightThroughReLU()


def test_a_wrong_backward_behind_a_right_forward_is_caught_in_the_gradients(cnn):
    model, x, y = cnn
    twin = _replace(ports_twin("keras"), 2, _straight_through_relu())   # after bn1
    result = training.step(model, twin, x, y, learning_rate=0.1)
    loss = next(q for q in result["quantities"] if q["kind"] == "loss")
    assert loss["float64"]["bound_ratio"] < 1   # forward agrees
    # relu1 is not mapped: conv2's torch segment starts at bn1 and holds the module, and
    # Keras's runs relu1 and conv2 from bn1's value: its isolated input gradient parts first
    assert _first(result) == ("isolated_gradient", "conv2", "input")
    later = {q["layer"] for q in result["quantities"] if q["kind"] == "gradient"
             and q["float64"]["mismatched"]}
    assert later == {"bn1", "conv1"}   # only what lies behind the wrong backward
    assert [(q["layer"], q["weight"]) for q in result["quantities"]
            if q["kind"] == "isolated_gradient" and training.diverges(q)] == [("conv2", "input")]


def _conv_with_weight_gradient(conv, weight_gradient):
    """A Conv2d (1x1, no padding, like ``conv``) whose forward is F.conv2d and whose backward
    is written by hand: the input's and the bias's gradients right, the weight's
    ``weight_gradient(x, w, g)``."""
    import torch
    import torch.nn.functional as F

    class Fn(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x, w, b):
            ctx.save_for_backward(x, w)
            return F.conv2d(x, w, b)

        @staticmethod
        def backward(ctx, g):
            x, w = ctx.saved_tensors
            return (torch.nn.grad.conv2d_input(x.shape, w, g), weight_gradient(x, w, g),
                    g.sum(dim=(0, 2, 3)))

    class HandGradConv2d(torch.nn.Conv2d):
        def forward(self, x):
            return Fn.apply(x, self.weight, self.bias)
    return HandGradConv2d(conv.in_channels, conv.out_channels, conv.kernel_size)


def _first_sample_only(x, w, g):
    """The wrong weight gradient: the first sample's alone (a forward test cannot see it)."""
    import torch

    return torch.nn.grad.conv2d_weight(x[:1], w.shape, g[:1])


def test_a_conv_whose_weight_gradient_is_wrong_is_caught_in_its_isolated_backward(cnn):
    """conv4 (1x1, no padding) replaced by a Conv2d subclass whose forward is F.conv2d and whose
    backward is wrong for the weight only: its forward and its input's gradient agree, the
    isolated weight gradient at conv4 is the first quantity to part."""
    model, x, y = cnn
    twin = ports_twin("keras")
    twin[10] = _conv_with_weight_gradient(twin[10], _first_sample_only)
    result = training.step(model, twin, x, y, learning_rate=0.1)
    assert _first(result) == ("isolated_gradient", "conv4", "weight")
    rows = {(q["kind"], q["layer"], q["weight"]): q for q in result["quantities"]}
    assert not training.diverges(rows[("forward", "conv4", None)])
    assert not training.diverges(rows[("isolated_gradient", "conv4", "input")])
    assert not training.diverges(rows[("isolated_gradient", "conv4", "bias")])
    assert training.diverges(rows[("gradient", "conv4", "weight")])   # propagated too
    assert "gives another weight gradient" in result["verdict"]["cause"]["text"]


def test_the_same_conv_with_its_backward_written_right_passes(cnn):
    """The same hand-written backward with the right weight gradient (all samples, an einsum):
    written unlike torch's own kernel, it agrees."""
    import torch

    def einsum(x, w, g):
        return torch.einsum("nohw,nchw->oc", g, x).reshape(w.shape)
    model, x, y = cnn
    twin = ports_twin("keras")
    twin[10] = _conv_with_weight_gradient(twin[10], einsum)
    result = training.step(model, twin, x, y, learning_rate=0.1)
    assert result["verdict"]["status"] == "pass", _first(result)


def test_crossentropy_from_logits_agrees_too(cnn):
    model, x, _ = cnn
    onehot = np.eye(10, dtype=np.float32)[[1, 4, 7, 2]]
    result = training.step(model, ports_twin("keras"), x, onehot, loss="crossentropy",
                           learning_rate=0.05)
    assert result["verdict"]["status"] == "pass", _first(result)


def test_an_unknown_loss_or_optimizer_is_refused(cnn):
    model, x, y = cnn
    with pytest.raises(ModelError, match="loss must be one of mse, crossentropy"):
        training.step(model, ports_twin(), x, y, loss="hinge")
    with pytest.raises(ModelError, match="optimizer must be one of sgd"):
        training.step(model, ports_twin(), x, y, optimizer="lion")
    with pytest.raises(ModelError, match="rho does not apply to adam"):
        training.step(model, ports_twin(), x, y, optimizer="adam", rho=0.9)
    with pytest.raises(ModelError, match="steps must be a positive integer"):
        training.step(model, ports_twin(), x, y, steps=0)


def test_a_module_of_unknown_kind_between_layers_leaves_the_mapping_in_place(cnn):
    """The straight-through ReLU is a module of no known kind: Keras's relu1 is not matched to
    the next ReLU past the unmatched conv2 (the walk upstream stops at a conv not matched yet),
    and the forward pass, right, agrees."""
    from parity.model import compare

    model, x, _ = cnn
    twin = ports_twin("keras")
    compare(model, twin, inputs=x, explain=False)    # carries the weights
    result = compare(model, _replace(twin, 2, _straight_through_relu()), inputs=x,
                     carry_weights=False, explain=False)
    rows = {r["layer"]: r["torch"] for r in result["layers"]}
    assert result["verdict"]["status"] == "pass" and "relu1" not in rows
    assert rows["conv2"] == ["3"] and rows["relu2"] == ["5"]


def test_keras_adam_translated_agrees_and_torch_adam_with_its_epsilon_copied_is_caught(cnn):
    """Keras adds epsilon to sqrt(v) before the bias correction: KerasAdam follows it and the
    step agrees; torch.optim.Adam given Keras's epsilon (the usual port) adds it after, and the
    updates part, from the first layer on, while every gradient agrees."""
    import torch

    from parity.ports.optim import keras_float

    model, x, y = cnn
    result = training.step(model, ports_twin("keras"), x, y, optimizer="adam",
                           learning_rate=0.01)
    assert result["verdict"]["status"] == "pass", _first(result)
    assert result["torch_optimizer"] == "translated"
    ported = training.step(model, ports_twin("keras"), x, y, optimizer="adam",
                           learning_rate=0.01, torch_optimizer=lambda p: torch.optim.Adam(
                               p, lr=keras_float(0.01), betas=(0.9, 0.999), eps=1e-7))
    assert _first(ported) == ("update", "conv1", "weight")
    assert all(q["float64"]["bound_ratio"] < 1 for q in ported["quantities"]
               if q["stage"] in ("forward", "loss", "backward", "statistics"))
    cause = ported["verdict"]["cause"]
    assert cause["registry"] == ["keras-adam-epsilon-before-bias-correction"]
    assert "eps=" not in cause["text"]   # Keras's epsilon was copied: only the placement
    assert ported["torch_optimizer"] == "given"


def test_a_batchnorm_without_scale_or_center_compares_what_keras_has():
    """BatchNormalization(scale=False, center=False) has no gamma and beta: the twin's are
    carried as 1 and 0 and not compared, the statistics are."""
    from parity.backends import tf as B
    from parity.model.twin import torch_twin

    keras = B.keras()
    keras.utils.set_random_seed(2)
    inp = keras.Input((8, 8, 3))
    y = keras.layers.BatchNormalization(scale=False, center=False, name="bn")(
        keras.layers.Conv2D(4, 3, padding="same", name="conv")(inp))
    model = keras.Model(inp, keras.layers.Dense(2, name="d")(keras.layers.Flatten()(y)))
    x = np.random.default_rng(2).uniform(-1, 1, (3, 8, 8, 3)).astype(np.float32)
    result = training.step(model, torch_twin(model), x, np.zeros((3, 2), np.float32))
    assert result["verdict"]["status"] == "pass", _first(result)
    bn = {(q["kind"], q["weight"]) for q in result["quantities"] if q["layer"] == "bn"}
    assert bn == {("forward", None), ("output_gradient", None), ("isolated_gradient", "input"),
                  ("statistics", "moving_mean"), ("statistics", "moving_variance")}


def _relu_pool_pair():
    """Keras's ResNet stem's end (ReLU, ZeroPadding2D(1), MaxPooling2D(3, 2)) and its torch
    twin with the zero pad as a module of its own."""
    import torch.nn as nn

    from parity.backends import tf as B

    keras = B.keras()
    keras.utils.set_random_seed(4)
    L = keras.layers
    inp = keras.Input((16, 16, 3))
    h = L.ReLU(name="relu")(L.Conv2D(8, 3, padding="same", name="conv")(inp))
    h = L.MaxPooling2D(3, 2, name="pool")(L.ZeroPadding2D(1, name="pad")(h))
    model = keras.Model(inp, L.Dense(2, name="d")(L.Flatten(name="flat")(h)))
    twin = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.ZeroPad2d(1),
                         nn.MaxPool2d(3, 2), nn.Flatten(), nn.Linear(8 * 8 * 8, 2))
    x = np.random.default_rng(4).uniform(-1, 1, (2, 16, 16, 3)).astype(np.float32)
    return model, twin, x


def test_a_max_pool_that_pads_with_minus_infinity_is_caught_in_its_backward():
    """torchvision's MaxPool2d(3, 2, padding=1) against Keras's ZeroPadding2D + MaxPooling2D:
    after a ReLU the forward is the same, the backward is not where a window's maximum is a 0
    tied with the pad (Keras sends its gradient to the pad); the same pool with the zero pad
    as a module (ZeroPad2d) agrees."""
    import torch.nn as nn

    from parity.model import compare

    model, twin, x = _relu_pool_pair()
    y = np.zeros((2, 2), np.float32)
    assert training.step(model, twin, x, y)["verdict"]["status"] == "pass"
    tv = nn.Sequential(twin[0], twin[1], nn.MaxPool2d(3, 2, padding=1), twin[4], twin[5])
    assert compare(model, tv, inputs=x, explain=False)["verdict"]["status"] == "pass"
    result = training.step(model, tv, x, y)
    assert _first(result) == ("isolated_gradient", "pool", "input")
    assert "ties with the pad" in result["verdict"]["cause"]["text"]
    assert not any(training.diverges(q) for q in result["quantities"] if q["kind"] == "forward")
