import numpy as np
import pytest
import torch

from parity.core import layout


@pytest.mark.parametrize("make", [np.asarray, torch.as_tensor])
def test_round_trips_on_numpy_and_torch(make):
    a = make(np.arange(2 * 3 * 4 * 5, dtype=np.float64).reshape(2, 3, 4, 5))
    back = layout.channels_last_to_first(layout.channels_first_to_last(a))
    assert np.array_equal(np.asarray(back), np.asarray(a))
    w = make(np.arange(3 * 5 * 2 * 8, dtype=np.float64).reshape(3, 5, 2, 8))
    assert tuple(layout.kernel_tf_to_torch(w).shape) == (8, 2, 3, 5)
    assert np.array_equal(np.asarray(layout.kernel_torch_to_tf(layout.kernel_tf_to_torch(w))),
                          np.asarray(w))
    dw = make(np.arange(3 * 3 * 4 * 2, dtype=np.float64).reshape(3, 3, 4, 2))
    assert np.array_equal(np.asarray(layout.depthwise_torch_to_tf(layout.depthwise_tf_to_torch(dw), 4)),
                          np.asarray(dw))


def test_depthwise_channel_order_is_c_times_m_plus_m():
    w = np.zeros((1, 1, 3, 2))
    w[0, 0, 2, 1] = 1.0  # input channel 2, multiplier 1
    assert np.argwhere(layout.depthwise_tf_to_torch(w)[:, 0, 0, 0]).ravel().tolist() == [2 * 2 + 1]


def test_a_wrong_kernel_transpose_is_detectable():
    w = np.arange(3 * 5 * 2 * 8.0).reshape(3, 5, 2, 8)
    wrong = np.transpose(w, (3, 2, 1, 0))  # swaps kh and kw
    assert wrong.shape != layout.kernel_tf_to_torch(w).shape
