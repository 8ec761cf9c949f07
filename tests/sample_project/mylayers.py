"""A user's PyTorch port of TensorFlow layers, with one bug."""
import torch
import torch.nn.functional as F


def conv2d_same(x, weight, bias=None, stride=(1, 1), dilation=(1, 1), groups=1):
    """TF's SAME convolution, ported the way many blog posts do it: pad (k - 1) // 2 on both
    sides. Wrong where TF pads unevenly (an even kernel, or a stride that does not divide)."""
    pad = [d * (k - 1) // 2 for k, d in zip(weight.shape[2:], dilation)]
    return F.conv2d(x, weight, bias, stride, pad, dilation, groups)


def relu6(x):
    """tf.nn.relu6, correctly."""
    return torch.clamp(x, 0, 6)
