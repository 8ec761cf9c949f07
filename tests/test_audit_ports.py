"""Every port can be audited through its op's documented calling convention, and passes."""
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
         ("init_default_conv", "parity.ports.init:keras_default_init_")]


@pytest.mark.parametrize("op, candidate", PORTS)
def test_auditing_a_port_passes(capsys, tmp_path, op, candidate):
    code = cli.main(["audit", op, candidate, "--examples", "12", "--dtypes", "float32,float64",
                     "--out", str(tmp_path)])
    out = capsys.readouterr().out
    assert code == 0, out
