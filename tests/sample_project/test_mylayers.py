"""The user's tests: parity's fixture against TensorFlow."""
import numpy as np
import pytest
import tensorflow as tf

import mylayers
from parity.ports import conv2d_same as shipped_conv2d_same


def test_the_shipped_port_passes(parity):
    parity.audit("conv2d_same", shipped_conv2d_same, examples=8, dtypes=["float32"])


@pytest.mark.parity(examples=25, seed=1)
def test_my_conv2d_same(parity):
    parity.audit("conv2d_same", mylayers.conv2d_same, dtypes=["float32"])


def test_my_relu6(parity):
    parity.assert_equivalent(tf.nn.relu6, mylayers.relu6,
                             np.linspace(-9, 9, 24, dtype="float32").reshape(2, 3, 4))


def test_relu6_is_not_relu(parity):
    parity.assert_equivalent(tf.nn.relu6, lambda x: x.clamp(min=0),
                             np.linspace(-9, 9, 24, dtype="float32").reshape(2, 3, 4))
