"""The ``efficientnet_pytorch`` variant: efficientnet-pytorch 0.7.1's TF-SAME modules
(``Conv2dDynamicSamePadding``, ``MaxPool2dDynamicSamePadding``) as the torch side of
``conv2d_same``, ``depthwise_conv2d_same`` and ``max_pool2d_same``, built like any module
candidate (``parity.exec.candidates``) with the case's weights. Installed by the ``thirdparty``
extra (pinned in ``requirements.lock``).
"""
from __future__ import annotations

from parity.backends import BackendUnavailable
import parity.ops.conv  # noqa: F401  (the ops it extends register first)
import parity.ops.pool  # noqa: F401  (the ops it extends register first)
from parity.spec.registry import Variant, add_variant, get


def _utils():
    try:
        from efficientnet_pytorch import utils
    except ImportError as e:
        raise BackendUnavailable(f"efficientnet_pytorch is not importable ({e}); "
                                 "pip install parity[thirdparty]") from None
    return utils


def _conv(c, inp):
    from parity.ops.modules import conv_module
    from parity.ops.conv import candidate_side

    return candidate_side(conv_module(_utils().Conv2dDynamicSamePadding))(c, inp)


def _max_pool(c, inp):
    from parity.ops.modules import pool_module
    from parity.ops.pool import candidate_side

    return candidate_side(pool_module(_utils().MaxPool2dDynamicSamePadding))(c, inp)


for _op, _side, _what in (("conv2d_same", _conv, "Conv2dDynamicSamePadding"),
                          ("depthwise_conv2d_same", _conv, "Conv2dDynamicSamePadding(groups=C)"),
                          ("max_pool2d_same", _max_pool, "MaxPool2dDynamicSamePadding")):
    _tf = get(_op).variants["port"].tf
    add_variant(_op, Variant("efficientnet_pytorch", _tf, "efficientnet_pytorch",
                             f"{_tf} vs efficientnet_pytorch.utils.{_what}"), _side)
