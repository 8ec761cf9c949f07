"""PyTorch implementations of TensorFlow semantics, verified by the harness.

``parity.ports`` is a torch library: importing it imports torch.

Example:
    >>> import torch
    >>> from parity.ports import conv2d_same
    >>> x = torch.zeros(1, 3, 7, 7); w = torch.zeros(8, 3, 4, 4)
    >>> tuple(conv2d_same(x, w, stride=2).shape)   # TF: ceil(7 / 2) = 4
    (1, 8, 4, 4)
"""
from parity.ports.conv import (Conv1dSame, Conv2dSame, Conv3dSame, DepthwiseConv2dSame,
                               conv1d_same, conv2d_same, conv3d_same, depthwise_conv2d_same,
                               pad_same)
from parity.ports.transpose import (ConvTranspose2dSame, TorchArgs, conv_transpose1d_tf,
                                    conv_transpose2d_tf, conv_transpose3d_tf, torch_args)
from parity.ports.batchnorm import KerasBatchNorm
from parity.ports.init import (glorot_normal_, glorot_uniform_, he_normal_, he_uniform_,
                               keras_default_init_, keras_fans, lecun_normal_, lecun_uniform_,
                               truncated_normal_, variance_scaling_)
from parity.ports.optim import KerasAdam, KerasSGD, keras_float
from parity.ports.norm import group_norm, l2_normalize, layer_norm_channels, weight_standardize
from parity.ports.pool import (AvgPool2dSame, MaxPool2dSame, avg_pool1d_same, avg_pool2d_same,
                               avg_pool3d_same, max_pool1d_same, max_pool2d_same, max_pool3d_same)

__all__ = ["conv1d_same", "conv2d_same", "conv3d_same", "depthwise_conv2d_same", "pad_same",
           "Conv1dSame", "Conv2dSame", "Conv3dSame", "DepthwiseConv2dSame",
           "max_pool1d_same", "max_pool2d_same", "max_pool3d_same", "avg_pool1d_same",
           "avg_pool2d_same", "avg_pool3d_same", "MaxPool2dSame", "AvgPool2dSame",
           "conv_transpose1d_tf", "conv_transpose2d_tf", "conv_transpose3d_tf",
           "ConvTranspose2dSame", "torch_args", "TorchArgs", "l2_normalize", "weight_standardize",
           "KerasBatchNorm", "group_norm", "layer_norm_channels", "KerasSGD", "KerasAdam",
           "keras_float", "he_normal_", "he_uniform_", "glorot_normal_", "glorot_uniform_",
           "lecun_normal_", "lecun_uniform_", "variance_scaling_", "truncated_normal_",
           "keras_default_init_", "keras_fans"]
