"""One case end to end on both frameworks: wrong sides are caught, refusals are findings."""
import torch.nn.functional as F

from parity.spec.divergences import Registry
from parity.exec.runner import one_line, run_case, tf_result

CFG = {"rank": 2, "batch": 2, "in_channels": 2, "out_channels": 3, "spatial": [7, 6],
       "kernel": [4, 3], "stride": [2, 1], "dilation": [1, 1], "groups": 1, "bias": True,
       "dtype": "float32"}


def test_port_passes_with_every_output_compared():
    rec = run_case("conv2d_same", "port", CFG, seed=3)
    assert rec["status"] == "pass" and set(rec["outputs"]) == {"y", "dx", "dw", "db"}
    assert 0 <= rec["max_bound_ratio"] < 1  # 0 where both run the same oneDNN kernel


def shifted(x, w, b, stride, dilation, groups):
    """Symmetric k//2 padding: wrong for even kernels."""
    return F.conv2d(x, w, b, stride, tuple(k // 2 for k in w.shape[2:]), dilation, groups)


def test_wrong_candidate_is_a_fail():
    rec = run_case("conv2d_same", "audit", dict(CFG, stride=[1, 1]), seed=3, candidate=shifted)
    assert rec["status"] == "fail"
    assert any(m["mismatched"] or not m["shape_match"] for m in rec["outputs"].values())


def test_raising_candidate_is_an_error_with_its_message():
    def boom(*a, **k):
        raise RuntimeError("candidate exploded")
    rec = run_case("conv2d_same", "audit", CFG, seed=3, candidate=boom)
    assert rec["status"] == "error" and "candidate exploded" in rec["error"]


def test_wrong_shape_candidate_fails_on_shape():
    rec = run_case("conv2d_same", "audit", CFG, seed=3,
                   candidate=lambda x, w, b, **k: F.conv2d(x, w, b))
    assert rec["status"] == "fail" and rec["outputs"]["y"]["shape_match"] is False


def test_torch_refusal_is_recorded_with_its_message_and_explained():
    rec = run_case("conv2d_same", "native", CFG, seed=3, divergences=Registry.load())
    assert rec["status"] == "rejected_torch"
    assert "not supported for strided" in rec["rejections"]["torch"]
    assert rec["divergence"] == "torch-same-padding-refuses-stride"


def test_tf_gradient_refusal_keeps_the_forward_and_the_reference_judges_the_rest():
    def refusing(op, variant, config, seed):  # TF's CPU kernels refuse dilated gradients
        out, _, warns = tf_result(op, variant, config, seed)
        return {"y": out["y"]}, "gradients: UnimplementedError: (refused)", warns

    # float64: on TF's own kernels on every CPU (oneDNN, where on, computes float32's gradients)
    rec = run_case("conv2d_same", "port", dict(CFG, stride=[1, 1], dilation=[2, 1],
                                               dtype="float64"), seed=1,
                   divergences=Registry.load(), tf_recorded=refusing)
    assert rec["status"] == "rejected_tf" and rec["rejections"]["tf"].startswith("gradients:")
    assert rec["divergence"] == "tf-cpu-dilated-conv-gradient"
    assert {n: m["judge"] for n, m in rec["outputs"].items()} == \
        {"y": "tf", "dx": "reference", "dw": "reference", "db": "reference"}


def test_bad_config_is_an_error_not_a_crash():
    rec = run_case("conv2d_same", "port", dict(CFG, groups=5), seed=0)
    assert rec["status"] == "error" and "groups=5" in rec["error"]
    assert run_case("nope", "port", CFG, seed=0)["error"].startswith("unknown op")


def test_one_line_strips_framework_decoration():
    e = ValueError("{{function_node __x}} bad thing [Op:Conv2D] name: foo\nmore")
    assert one_line(e) == "ValueError: bad thing more"


def test_case_ids_are_stable_and_distinct():
    a = run_case("conv2d_same", "port", CFG, seed=3)["id"]
    assert a == run_case("conv2d_same", "port", CFG, seed=3)["id"]
    assert a != run_case("conv2d_same", "port", CFG, seed=4)["id"]


def test_recorded_outputs_are_copies_not_views_of_framework_memory():
    import torch

    from parity.backends import torch as B

    t = torch.zeros(3, dtype=torch.float64)
    recorded = B.to_numpy(t)
    t.add_(1.0)  # a later in-place update (a running statistic, say) must not rewrite the record
    assert recorded.tolist() == [0.0, 0.0, 0.0]


def test_framework_tensors_are_copies_of_the_inputs():
    import numpy as np

    from parity.backends import torch as B

    a = np.zeros(3)
    t = B.tensor(a, "float64")
    t.add_(1.0)  # an optimizer step on the torch side must not rewrite the case's inputs
    assert a.tolist() == [0.0, 0.0, 0.0]
