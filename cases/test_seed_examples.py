"""seeds/003's worked examples, run on torch and on TF (parity.ports.tf), against pinned values."""
import json
from pathlib import Path

import numpy as np
import pytest

PINNED = json.loads((Path(__file__).parent / "seed003_examples.json").read_text())["examples"]


def run_torch(ex, kernel_size=None, padding=None):
    import torch

    x = torch.tensor([[ex["input"]]], dtype=torch.float64)
    k = kernel_size or ex["kernel_size"]
    p = ex["padding"] if padding is None else padding
    if ex["op"] == "conv2d":
        m = torch.nn.Conv2d(1, 1, k, stride=ex["stride"], padding=p, bias=False)
    else:
        m = torch.nn.ConvTranspose2d(1, 1, k, stride=ex["stride"], padding=p,
                                     output_padding=ex["output_padding"], bias=False)
    m = m.double()
    torch.nn.init.constant_(m.weight, 2.0)
    return m(x).detach().numpy()[0, 0]


def run_tf(ex):
    from parity.backends import tf as B

    tf = B.tf()
    from parity.ports import tf as P

    x = tf.constant(np.array(ex["input"], np.float64)[None, :, :, None])
    w = tf.constant(np.full((*ex["kernel_size"], 1, 1), 2.0))
    if ex["op"] == "conv2d":
        y = P.conv_torch(x, w, stride=ex["stride"], padding=ex["padding"])
    else:
        y = P.conv_transpose_torch(x, w, stride=ex["stride"], padding=ex["padding"],
                                   output_padding=ex["output_padding"])
    return y.numpy()[0, :, :, 0]


@pytest.mark.parametrize("ex", PINNED, ids=[e["name"] for e in PINNED])
def test_seed_example_on_both_frameworks(ex):
    expected = np.array(ex["expected"], np.float64)
    np.testing.assert_array_equal(run_torch(ex), expected)
    np.testing.assert_array_equal(run_tf(ex), expected)
    # the seed's printed value matches unless a note says where it went wrong
    assert (np.shape(ex["seed_output"]) == expected.shape and
            np.array_equal(ex["seed_output"], expected)) == ("note" not in ex or
                                                             "full_before_padding" in ex)


def test_seed_example_8_full_result_before_cropping():
    ex = next(e for e in PINNED if "full_before_padding" in e)
    np.testing.assert_array_equal(run_torch(ex, padding=[0, 0]), ex["full_before_padding"])
    assert ex["full_before_padding"][-1] != [8, 16, 24, 16, 8]  # the seed's hand calculation
