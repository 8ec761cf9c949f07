import pytest

from parity.spec import registry
from parity.core.config import ConfigError
from parity.ops.conv import ConvConfig

GOOD = {"rank": 2, "batch": 1, "in_channels": 4, "out_channels": 2, "spatial": [5, 6],
        "kernel": [3, 2], "stride": [2, 1], "dilation": [1, 1], "groups": 2, "bias": False,
        "dtype": "float32"}


def test_round_trip_and_stable_id():
    c = ConvConfig.from_dict(GOOD)
    assert c.to_dict() == GOOD and ConvConfig.from_dict(c.to_dict()) == c
    assert c.config_id() == ConvConfig.from_dict(dict(GOOD)).config_id()
    assert c.config_id() != ConvConfig.from_dict(dict(GOOD, bias=True)).config_id()


@pytest.mark.parametrize("change, message", [
    ({"groups": 3}, "groups=3 must divide"), ({"kernel": [3]}, "kernel needs 2 values"),
    ({"stride": [0, 1]}, "stride values must be >= 1"), ({"dtype": "int8"}, "unknown dtype"),
    ({"rank": 4}, "rank must be"), ({"batch": "2"}, "must be int"),
    ({"spatial": [5.0, 6]}, "list of integers"), ({"bias": 1}, "must be bool"),
    ({"colour": 1}, "unknown field")])
def test_invalid_configs_give_one_line_errors(change, message):
    with pytest.raises(ConfigError, match=message) as e:
        ConvConfig.from_dict({**GOOD, **change})
    assert "\n" not in str(e.value)


def test_missing_field():
    with pytest.raises(ConfigError, match="missing"):
        ConvConfig.from_dict({k: v for k, v in GOOD.items() if k != "kernel"})


def test_depthwise_op_checks_its_own_rules():
    with pytest.raises(ConfigError, match="groups == in_channels"):
        registry.get("depthwise_conv2d_same").parse_config(GOOD)
