"""Recipes people copy for SAME padding in PyTorch, kept so the harness can measure them.

* ``seed_conv2d_same_padding``: ``conv2d_same_padding`` from the blog post in
  ``seeds/000`` (after a Zhihu answer), reproduced faithfully. It computes the
  column padding from the *row* sizes (``input_rows``, ``filter_rows``,
  ``stride[0]``, ``dilation[0]``) and tests ``padding_rows`` for the odd
  column, so it is right only when height and width agree in input size,
  kernel, stride and dilation.
* ``naive_conv2d_same``: ``padding = dilation * (k - 1) // 2`` on both sides, the
  "k = (n - 1) / 2" answer of ``seeds/001``: right for odd kernels at stride 1,
  wrong for even kernels (TF puts the extra pixel at the end) and for
  strides whose output TF sizes as ``ceil(n / s)``.

Both follow the audit calling convention of ``conv2d_same``:
``fn(input, weight, bias, stride=(sh, sw), dilation=(dh, dw), groups=g)``.
"""
from __future__ import annotations

import torch.nn.functional as F
from torch.nn.functional import pad


def seed_conv2d_same_padding(input, weight, bias=None, stride=(1, 1), padding=(1, 1),
                             dilation=(1, 1), groups=1):
    # padding not relevant, just to be compatible with conv2d  (verbatim from the seed)
    input_rows = input.size(2)
    filter_rows = weight.size(2)
    out_rows = (input_rows + stride[0] - 1) // stride[0]
    padding_rows = max(0, (out_rows - 1) * stride[0] +
                       (filter_rows - 1) * dilation[0] + 1 - input_rows)
    rows_odd = (padding_rows % 2 != 0)
    padding_cols = max(0, (out_rows - 1) * stride[0] +
                       (filter_rows - 1) * dilation[0] + 1 - input_rows)
    cols_odd = (padding_rows % 2 != 0)

    if rows_odd or cols_odd:
        input = pad(input, [0, int(cols_odd), 0, int(rows_odd)])

    return F.conv2d(input, weight, bias, stride,
                    padding=(padding_rows // 2, padding_cols // 2),
                    dilation=dilation, groups=groups)


def naive_conv2d_same(input, weight, bias=None, stride=(1, 1), dilation=(1, 1), groups=1):
    """``padding = d*(k-1)//2`` per side: the "k = (n-1)/2" rule."""
    padding = tuple(d * (k - 1) // 2 for k, d in zip(weight.shape[2:], dilation))
    return F.conv2d(input, weight, bias, stride, padding, dilation, groups)


def seed_weight_standardize(weight):
    """The PyTorch weight standardization of seeds/002 (``Conv2d.forward``), verbatim.

    Per output channel: mean over dims 1, 2, 3, then ``Tensor.std`` (unbiased, Bessel's
    correction) plus 1e-5. Written for 4-D weights: on 3-D ones ``mean(dim=3)`` fails.
    """
    weight_mean = weight.mean(dim=1, keepdim=True).mean(dim=2,
                              keepdim=True).mean(dim=3, keepdim=True)
    weight = weight - weight_mean
    std = weight.view(weight.size(0), -1).std(dim=1).view(-1, 1, 1, 1) + 1e-5
    weight = weight / std.expand_as(weight)
    return weight
