"""Keras ``BatchNormalization`` for PyTorch, exactly.

Keras (keras/src/layers/normalization/batch_normalization.py): training normalizes with the
batch mean and the *biased* batch variance (``tf.nn.moments``) and updates
``moving = moving * momentum + batch * (1 - momentum)`` with that biased variance; epsilon
defaults to 1e-3; float16/bfloat16 inputs are normalized in float32. Torch's ``BatchNorm*d``
updates ``running = (1 - momentum) * running + momentum * batch`` with the *unbiased* variance,
eps 1e-5, and only ever normalizes dim 1. ``KerasBatchNorm`` does what Keras does for any axis.
"""
from __future__ import annotations

import torch

__all__ = ["KerasBatchNorm"]


class KerasBatchNorm(torch.nn.Module):
    """``keras.layers.BatchNormalization(axis, momentum, epsilon)`` on a torch tensor.

    ``dim`` is the torch dimension Keras's ``axis`` names (1 for channels in NC... layout).

    >>> bn = KerasBatchNorm(3, dim=1)
    >>> _ = bn(torch.randn(4, 3, 5)); bool(torch.all(bn.moving_variance != 1))
    True
    """

    def __init__(self, size: int, dim: int = 1, momentum: float = 0.99, epsilon: float = 1e-3):
        super().__init__()
        self.dim, self.momentum, self.epsilon = dim, momentum, epsilon
        self.gamma = torch.nn.Parameter(torch.ones(size))
        self.beta = torch.nn.Parameter(torch.zeros(size))
        self.register_buffer("moving_mean", torch.zeros(size))
        self.register_buffer("moving_variance", torch.ones(size))

    @classmethod
    def from_keras(cls, layer, dim: int = 1) -> "KerasBatchNorm":
        """Build from a Keras BatchNormalization layer (its config and weights)."""
        gamma, beta, mean, var = (torch.tensor(w) for w in layer.get_weights())
        bn = cls(gamma.numel(), dim, layer.momentum, layer.epsilon)
        with torch.no_grad():
            bn.gamma.copy_(gamma), bn.beta.copy_(beta)
            bn.moving_mean.copy_(mean), bn.moving_variance.copy_(var)
        return bn

    def forward(self, x):
        compute = torch.float32 if x.dtype in (torch.float16, torch.bfloat16) else x.dtype
        h = x.to(compute)
        axes = [d for d in range(x.dim()) if d != self.dim % x.dim()]
        shape = [-1 if d == self.dim % x.dim() else 1 for d in range(x.dim())]
        if self.training:
            mean = h.mean(dim=axes, keepdim=True)
            var = ((h - mean.detach()) ** 2).mean(dim=axes, keepdim=True)
            with torch.no_grad():  # as Keras: in the compute dtype, rounded once on assignment
                m = self.momentum
                self.moving_mean.copy_(self.moving_mean.to(compute) * m + mean.flatten() * (1 - m))
                self.moving_variance.copy_(self.moving_variance.to(compute) * m
                                           + var.flatten() * (1 - m))
        else:
            mean = self.moving_mean.to(compute).view(shape)
            var = self.moving_variance.to(compute).view(shape)
        scale = self.gamma.to(compute).view(shape) * torch.rsqrt(var + self.epsilon)
        return ((h - mean) * scale + self.beta.to(compute).view(shape)).to(x.dtype)
