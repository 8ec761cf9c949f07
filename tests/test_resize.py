"""resize2d: the port's weights and bound; the registry's torch mechanisms, measured (its port's
audit and wrong resizes: test_audit_ports)."""
import numpy as np
import pytest

from parity.ops.resize import ResizeConfig, make_inputs, reference_and_bounds


@pytest.mark.parametrize("method", ["bilinear", "nearest", "bicubic", "area"])
@pytest.mark.parametrize("antialias", [False, True])
def test_every_weight_row_sums_to_one(method, antialias):
    from parity.ports.resize import resize_weights

    if antialias and method in ("nearest", "area"):
        pytest.skip("antialias applies to bilinear and bicubic")
    for n, o in [(1, 3), (5, 2), (7, 3), (4, 12), (9, 9)]:
        np.testing.assert_allclose(resize_weights(n, o, method, antialias, np.float64).sum(1), 1.0,
                                   atol=1e-12)


def test_torch_nearest_exact_is_tf_nearest():
    """torch-interpolate-nearest-floor-index names nearest-exact as TF's rule."""
    import torch
    import torch.nn.functional as F

    from parity.ports import resize2d

    x = torch.randn(1, 2, 7, 10, dtype=torch.float64)
    for size in [(3, 4), (5, 15), (12, 9), (2, 1)]:
        assert torch.equal(F.interpolate(x, size=size, mode="nearest-exact"),
                           resize2d(x, size, "nearest"))


def test_torch_antialias_one_column_output_repeats_the_first_row():
    """torch-antialias-one-column-output, measured: if torch fixes it this fails and the entry
    must go."""
    import torch
    import torch.nn.functional as F

    from parity.ports import resize2d

    x = torch.randn(1, 1, 7, 1, dtype=torch.float64)
    got = F.interpolate(x, size=(5, 1), mode="bilinear", antialias=True)
    assert torch.equal(got, got[:, :, :1].expand_as(got))
    assert (got - resize2d(x, (5, 1), "bilinear", True)).abs().max() > 0.1
    wide = F.interpolate(x.expand(1, 1, 7, 2), size=(5, 2), mode="bilinear", antialias=True)
    torch.testing.assert_close(wide[..., :1], resize2d(x, (5, 1), "bilinear", True))


def test_reference_bound_covers_the_port_and_catches_a_shift():
    import torch

    from parity.ports import resize2d

    c = ResizeConfig(rank=2, batch=1, channels=2, spatial=(5, 7), size=(9, 3),
                     method="bicubic", dtype="float32")
    inp = make_inputs(c, 4)
    exact, bound = reference_and_bounds(c, inp)
    y = resize2d(torch.from_numpy(inp["x"]), c.size, c.method).double().numpy()
    assert (np.abs(y - exact["y"]) <= bound["y"]).all()
    shifted = resize2d(torch.from_numpy(inp["x"]).roll(1, -1), c.size, c.method).double().numpy()
    assert (np.abs(shifted - exact["y"]) > bound["y"]).any()
