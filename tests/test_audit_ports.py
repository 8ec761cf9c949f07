"""Every port can be audited through its op's documented calling convention, and passes; a
deliberately wrong one fails."""
import pytest

from parity import cli

PORTS = [("conv2d_same", "parity.ports:conv2d_same"),
         ("max_pool2d_same", "parity.ports:max_pool2d_same"),
         ("avg_pool1d_same", "parity.ports:avg_pool1d_same"),
         ("conv_transpose2d", "parity.ports:conv_transpose2d_tf"),
         ("conv_transpose1d_torch", "torch.nn.functional:conv_transpose1d"),
         ("l2_normalize", "parity.ports:l2_normalize"),
         ("batch_norm", "parity.ports:KerasBatchNorm"),
         ("group_norm", "parity.ports:group_norm"),
         ("layer_norm", "parity.ports:layer_norm_channels"),
         ("init_he_normal", "parity.ports.init:he_normal_"),
         ("init_glorot_uniform", "parity.ports.init:glorot_uniform_"),
         ("init_variance_scaling", "parity.ports.init:variance_scaling_"),
         ("init_truncated_normal", "parity.ports.init:truncated_normal_"),
         ("init_default_conv", "parity.ports.init:keras_default_init_"),
         ("conv1d_causal", "parity.ports:conv1d_causal"),
         ("separable_conv2d_same", "parity.ports:separable_conv2d_same"),
         ("resize2d", "parity.ports:resize2d")]
WRONG = [("conv1d_causal", "audit_candidates:causal_padded_at_the_end", "float64"),
         ("conv1d_causal", "audit_candidates:causal_same_padding", "float64"),
         ("separable_conv2d_same", "audit_candidates:separable_multiplier_major", "float64"),
         ("separable_conv2d_same", "audit_candidates:separable_symmetric_padding", "float64"),
         ("resize2d", "audit_candidates:resize_torch_native", "float32"),
         ("resize2d", "audit_candidates:resize_align_corners", "float32")]


@pytest.mark.parametrize("op, candidate", PORTS)
def test_auditing_a_port_passes(capsys, tmp_path, op, candidate):
    code = cli.main(["audit", op, candidate, "--examples", "12", "--dtypes", "float32,float64",
                     "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0, out


@pytest.mark.parametrize("op, candidate, dtype", WRONG)
def test_a_wrong_port_is_caught(capsys, tmp_path, op, candidate, dtype):
    code = cli.main(["audit", op, candidate, "--examples", "25", "--dtypes", dtype,
                     "--out", str(tmp_path)])
    assert code == 1, capsys.readouterr().out
