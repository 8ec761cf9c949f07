"""conv1d_causal: a causal config is 1-D, and the crop recipe's divergence is what the registry
says it is (its port's audit and wrong ports: test_audit_ports)."""
import numpy as np
import pytest

from parity.ops.causal import CausalConfig, crop_recipe
from parity.ops.conv import make_inputs, reference_and_bounds


def _config(**changes):
    fields = dict(rank=1, batch=2, in_channels=2, out_channels=3, spatial=(30,), kernel=(4,),
                  stride=(4,), dilation=(1,), groups=1, bias=True, dtype="float64")
    return CausalConfig(**{**fields, **changes})


def test_config_is_one_dimensional():
    with pytest.raises(ValueError, match="rank must be 1"):
        CausalConfig(rank=2, batch=1, in_channels=1, out_channels=1, spatial=(3, 3),
                     kernel=(2, 2), stride=(1, 1), dilation=(1, 1))


@pytest.mark.parametrize("n, k, s, d", [(30, 4, 4, 1), (9, 3, 2, 2), (7, 5, 3, 1)])
def test_crop_recipe_keeps_right_values_but_too_few_outputs(n, k, s, d):
    """The registry's torch-causal-crop-recipe-stride: the outputs the recipe keeps equal the
    exact causal ones, and it keeps floor((n+p-1)/s) + 1 - p of ceil(n/s)."""
    import torch

    c = _config(spatial=(n,), kernel=(k,), stride=(s,), dilation=(d,))
    inp = make_inputs(c, 3)
    exact = reference_and_bounds(c, inp)[0]["y"]
    got = crop_recipe(*(torch.from_numpy(inp[n_]) for n_ in ("x", "w", "b")), c.stride,
                      c.dilation, 1).numpy()
    p = (k - 1) * d
    assert got.shape[-1] == max((n + p - 1) // s + 1 - p, 0) < exact.shape[-1] == -(-n // s)
    np.testing.assert_allclose(got, exact[..., :got.shape[-1]], rtol=1e-12, atol=1e-12)
