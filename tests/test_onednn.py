"""TF's CPU kernels as facts: oneDNN on or off (TF's rule, held against TF's own answer), the ISA
oneDNN dispatches (read from its verbose header in a child), and ``parity matrix``'s settings
that re-run TF under other CPU kernels."""
import json
import os
import subprocess
import sys

import pytest

from parity.backends import onednn
from parity.backends import missing

needs_tf = pytest.mark.skipif(bool(missing(("tensorflow",))), reason="needs TensorFlow")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _fresh(code: str, **env) -> str:
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", **env}, cwd=ROOT,
                         timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout.strip().splitlines()[-1]


@needs_tf
@pytest.mark.parametrize("setting", [None, "0", "1"])
def test_the_rule_for_onednn_is_tfs_own_answer(setting):
    """``policy()`` (no TF import) against ``IsMklEnabled()`` in a process that loaded TF,
    with TF_ENABLE_ONEDNN_OPTS unset, 0 and 1; the CPU decides the unset case."""
    env = {} if setting is None else {"TF_ENABLE_ONEDNN_OPTS": setting}
    if setting is None:
        env["TF_ENABLE_ONEDNN_OPTS"] = ""  # unset for TF (an empty value is its default)
    code = ("from parity.backends import onednn; before = onednn.policy(); import tensorflow; "
            "print(before, onednn.enabled())")
    before, after = _fresh(code, **env).split()
    assert before == after


def test_the_rule_follows_the_cpu_and_the_variable(monkeypatch):
    monkeypatch.delenv("TF_ENABLE_ONEDNN_OPTS", raising=False)
    monkeypatch.setattr(onednn.platform, "machine", lambda: "x86_64")
    monkeypatch.setattr(onednn.sys, "platform", "linux")
    assert onednn.policy({"avx2", "fma"}) is False        # an AVX2-only CPU: off by default
    assert onednn.policy({"avx2", "avx512f", "avx512_vnni"}) is True
    monkeypatch.setenv("TF_ENABLE_ONEDNN_OPTS", "0")
    assert onednn.policy({"avx512_vnni"}) is False
    monkeypatch.setenv("TF_ENABLE_ONEDNN_OPTS", "true")
    assert onednn.policy({"avx2"}) is True


def test_the_isa_line_of_onednn_is_named_as_onednn_max_cpu_isa_names_it():
    assert onednn.isa_name("Intel AVX-512 with AVX512BW, AVX512VL, and AVX512DQ extensions") == \
        "avx512_core"
    assert onednn.isa_name("Intel AVX-512 with float16, Intel DL Boost and bfloat16 support and "
                           "Intel AMX with bfloat16 and 8-bit integer support") == "avx512_core_amx"
    assert onednn.isa_name("Intel AVX2 with Intel DL Boost") == "avx2_vnni"
    assert onednn.isa_name("Some Future ISA, v2") == "some_future_isa_v2"  # kept, not dropped


@needs_tf
def test_the_dispatched_isa_is_measured_and_capped_by_onednn_max_cpu_isa(tmp_path):
    """The probe reads what oneDNN prints; ONEDNN_MAX_CPU_ISA=SSE41 (every x86-64 CPU reaches
    it) caps it, TF_ENABLE_ONEDNN_OPTS=0 leaves nothing to read. Cached on disk per setting."""
    if onednn.platform.machine().lower() not in ("x86_64", "amd64"):
        pytest.skip("oneDNN's x86 ISA levels")
    code = "from parity.backends import onednn; import json; print(json.dumps(onednn.dispatched()))"
    cache = {"PARITY_CACHE_DIR": str(tmp_path)}
    capped = json.loads(_fresh(code, ONEDNN_MAX_CPU_ISA="SSE41", TF_ENABLE_ONEDNN_OPTS="1",
                               **cache))
    assert capped == {"enabled": True, "isa": "sse41", "description": "Intel SSE4.1"}
    off = json.loads(_fresh(code, TF_ENABLE_ONEDNN_OPTS="0", **cache))
    assert off == {"enabled": False, "isa": "", "description": ""}
    assert len(list(tmp_path.glob("onednn-isa-*.json"))) == 2


def test_the_facts_name_the_kernels_and_the_dtypes_tf_gives_onednn():
    from parity.backends.environment import facts

    f = facts()
    assert f["onednn"] is bool(f["onednn"]) and isinstance(f["isa"], str)
    assert f["onednn_dtypes"] == onednn.dtypes(f["onednn"])
    assert (f["isa"] == "") == (not f["onednn"]) or not f["isa"]


def test_environment_predicates_may_depend_on_the_dtype():
    from parity.spec.divergences import Divergence

    e = Divergence(id="x", ops=["conv3d_same"], statuses=["rejected_tf"], mechanism="m",
                   magnitude="1", environment="dtype not in onednn_dtypes")
    on = {"onednn": True, "onednn_dtypes": ["float32", "bfloat16"]}
    assert e.environment_dtypes(on) == {"float16", "float64"}
    assert e.in_environment(on, "float32") is False and e.in_environment(on, "float64") is True
    assert e.environment_dtypes({"onednn": False, "onednn_dtypes": []}) == \
        {"float16", "bfloat16", "float32", "float64"}


@needs_tf
def test_matrix_reruns_tf_under_onednn_off_and_a_capped_isa(tmp_path):
    """Two settings of TF's CPU kernels on one small plan: each run is a fresh process whose
    report records the kernels it got, and the registry explains every case under both."""
    from parity import cli

    if onednn.platform.machine().lower() not in ("x86_64", "amd64"):
        pytest.skip("oneDNN's x86 ISA levels")
    code = cli.main(["matrix", "--settings", "cpu-onednn-off,cpu-isa-sse41", "--ops",
                     "conv3d_same,max_pool2d_same", "--examples", "3", "--dtypes", "float32",
                     "--repeats", "1", "--out", str(tmp_path)])
    matrix = json.loads((tmp_path / "matrix.json").read_text())
    assert code == 0 and matrix["unexpected"] == 0 and matrix["archive"] is None
    got = {s["name"]: (s["onednn"], s["isa"]) for s in matrix["settings"]}
    assert got == {"cpu-onednn-off": (False, ""), "cpu-isa-sse41": (True, "sse41")}
    assert all(set(row) <= set(got) for row in matrix["entries"].values()) and matrix["entries"]


def test_matrix_refuses_cpu_kernel_settings_with_a_reference(tmp_path, capsys):
    from parity import cli

    code = cli.main(["matrix", "--settings", "cpu-onednn-off", "--reference",
                     str(tmp_path / "tf.npz"), "--out", str(tmp_path)])
    assert code == 2 and "cannot use --reference" in capsys.readouterr().err
