"""seeds/001: where the offered PyTorch code is and is not the Keras model (measured)."""
import pytest

from seed001_model import LAYERS, compare


@pytest.fixture(scope="module")
def result():
    return compare(seed=0)


def rows(result, model):
    return [r for r in result["rows"] if r["model"] == model]


def test_offered_code_differs_in_shape_from_the_first_layer_on_keras_input(result):
    offered = rows(result, "offered")
    assert offered[0]["keras_shape"] == [2, 64, 30, 30]      # Conv2D(64, (3, 3)) is "valid"
    assert offered[0]["torch_shape"] == [2, 64, 32, 32]      # the answer pads it (padding=1)
    assert not any(r["shape_match"] for r in offered)


def test_offered_code_on_the_answers_30x30_input_matches_shapes_but_not_values(result):
    offered = rows(result, "offered_30x30")
    assert all(r["shape_match"] for r in offered)            # what the answer checked
    assert all(r["max_abs_diff"] > 0.1 for r in offered)     # bias dropped, batch norm axis wrong


def test_corrected_model_is_equivalent_at_every_layer(result):
    corrected = rows(result, "corrected")
    assert [r["layer"] for r in corrected] == LAYERS
    assert all(r["shape_match"] and r["max_abs_diff"] < 1e-12 for r in corrected)


def test_what_cannot_be_transferred_is_named(result):
    lost = result["not_transferred"]
    assert sum("bias" in item for item in lost) == 2
    assert sum("per-row" in item for item in lost) == 2
