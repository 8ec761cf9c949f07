"""Each comparator rule catches a deliberately wrong result; a right one passes."""
import numpy as np
import pytest

from parity.core.tolerance import compare_output, describe_failure, output_failed, rounding_bound

REF = np.array([[1.0, -2.0], [0.5, 3.0]])
BOUND = rounding_bound(np.abs(REF) + 1, 4, "float32")


def test_identical_results_pass():
    m = compare_output(REF, REF.copy(), REF, BOUND)
    assert not output_failed(m) and m["max_abs_diff"] == 0 and m["bound_ratio"] == 0


def test_rounding_level_difference_passes():
    torch_out = REF * (1 + 2**-24)
    m = compare_output(REF, torch_out, REF, BOUND)
    assert not output_failed(m) and 0 < m["bound_ratio"] < 1


def test_value_beyond_bound_is_caught_with_worst_element():
    torch_out = REF.copy()
    torch_out[1, 0] += 1e-3
    m = compare_output(REF, torch_out, REF, BOUND)
    assert output_failed(m) and m["mismatched"] == 1 and m["worst_index"] == [1, 0]
    assert m["tf_value"] == 0.5 and m["torch_value"] == pytest.approx(0.501)
    assert m["farther"] == "torch" and m["bound_ratio"] > 1
    assert "Mismatched elements: 1 / 4".lower() in describe_failure("op", "id", "y", m).lower()


def test_shape_mismatch_is_caught():
    m = compare_output(REF, REF[:, :1], REF, BOUND)
    assert output_failed(m) and not m["shape_match"] and m["farther"] == "torch"
    assert "shape mismatch" in describe_failure("op", "id", "y", m)


def test_missing_output_is_caught():
    m = compare_output(REF, None, REF, BOUND)
    assert output_failed(m) and m["torch_shape"] is None


def test_nan_on_one_side_is_caught():
    torch_out = REF.copy()
    torch_out[0, 1] = np.nan
    m = compare_output(REF, torch_out, REF, BOUND)
    assert output_failed(m) and m["nonfinite_match"] is False and m["worst_index"] == [0, 1]
    assert m["torch_value"] == "nan"


def test_nan_on_both_sides_agrees():
    a = REF.copy()
    a[0, 0] = np.nan
    assert not output_failed(compare_output(a, a.copy(), a, BOUND))


def test_opposite_infinities_are_caught():
    a, b = REF.copy(), REF.copy()
    a[0, 0], b[0, 0] = np.inf, -np.inf
    assert output_failed(compare_output(a, b, REF, BOUND))


def test_farther_side_is_tf_when_tf_is_wrong():
    tf_out = REF + np.array([[0, 0], [0, 1e-2]])
    assert compare_output(tf_out, REF, REF, BOUND)["farther"] == "tf"


def test_bound_scales_with_dtype_and_reduction_length():
    m = np.array([1.0])
    assert rounding_bound(m, 9, "float16")[0] > 1000 * rounding_bound(m, 9, "float32")[0]
    assert rounding_bound(m, 100, "float32")[0] > rounding_bound(m, 4, "float32")[0]


def test_a_bound_that_overflowed_bounds_nothing_and_ratios_stay_numbers():
    bound = np.array([[np.nan, np.inf], [1e-3, 1e-3]])
    m = compare_output(REF, REF + 1e-4, REF, bound)
    assert not output_failed(m) and isinstance(m["bound_ratio"], float) and m["bound_ratio"] < 1


def test_describe_failure_takes_non_finite_values_as_stored_in_reports():
    m = {"shape_match": True, "tf_shape": [2], "mismatched": 1, "mismatched_fraction": 0.5,
         "max_abs_diff": 0.0, "bound_ratio": 0.0, "worst_index": [1], "tf_value": "nan",
         "torch_value": 1.0, "reference_value": 1.0, "bound": "inf"}
    assert describe_failure("op", "id", "y", m).endswith("bound inf")
