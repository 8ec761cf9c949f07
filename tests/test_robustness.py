"""Bad input and faults: each is one line on stderr with a documented exit code, refused before
any work is done where it can be, and nothing written earlier is lost or overwritten.

Exit codes: 2 bad input (refused before any case runs), 3 results that could not be written
after all (a full disk, simulated with RLIMIT_FSIZE), 130 interrupted. Registry files:
``tests/test_registry_files.py``.
"""
import copy
import ctypes
import json
import os
import resource
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

from parity.cli import main
from parity.report import load_report
from procs import ParityProcess, run_parity

REPO = Path(__file__).resolve().parents[1]
OPS = "l2_normalize"


def cli(*args, cwd=None, fsize=None, unprivileged=False, env=None, **kw):
    """``python -m parity ARGS`` in a child: with RLIMIT_FSIZE (a disk that fills: writes
    beyond it fail with EFBIG) or, with ``unprivileged``, without the capabilities that let
    root write anywhere (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH), so a read-only directory is
    read-only even when the tests run as root."""
    def limits():
        if fsize is not None:
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
        if unprivileged and os.geteuid() == 0:
            libc = ctypes.CDLL(None, use_errno=True)
            for capability in (1, 2):  # PR_CAPBSET_DROP: gone for the exec'd program
                if libc.prctl(24, capability, 0, 0, 0) != 0:
                    raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")
    full_env = dict(os.environ, PYTHONPATH=str(REPO), **(env or {}))
    if not unprivileged and not kw:  # forked from the preloaded server (tests/procs.py)
        return run_parity(args, cwd=cwd, env=full_env, fsize=fsize)
    return subprocess.run([sys.executable, "-m", "parity", *map(str, args)], cwd=cwd,
                          preexec_fn=limits, capture_output=True, text=True, env=full_env, **kw)


def one_line(err: str, *words) -> str:
    lines = [line for line in err.splitlines() if line.startswith("parity: error:")]
    assert len(lines) == 1, err[-3000:]
    assert "Traceback" not in err, err[-3000:]
    for w in words:
        assert w in lines[0], lines[0]
    return lines[0]


def snapshot(directory: Path) -> dict:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir()) if p.is_file()}


@pytest.fixture(scope="module")
def report_dir(tmp_path_factory):
    """A small real run report (and its HTML) in a directory."""
    out = tmp_path_factory.mktemp("run")
    assert main(["run", "--ops", OPS, "--examples", "2", "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def archive(tmp_path_factory):
    """A small real record archive: two ops, two variants each at least."""
    path = tmp_path_factory.mktemp("rec") / "tf.npz"
    assert main(["record", "--ops", "conv1d_same,l2_normalize", "--examples", "2",
                 "--dtypes", "float32,float64", "--out", str(path)]) == 0
    return path


@pytest.fixture
def shared_tmp(tmp_path):
    """A directory whose read-only subdirectories are made writable again afterwards."""
    yield tmp_path
    for p in tmp_path.rglob("*"):
        if p.is_dir():
            p.chmod(0o755)


# ------------------------------------------------------------ checked before any work is done
def test_run_and_record_out_of_the_wrong_kind_are_refused_before_any_case(tmp_path, capsys):
    a_file = tmp_path / "taken"
    a_file.write_text("precious")
    assert main(["run", "--ops", OPS, "--examples", "1", "--out", str(a_file)]) == 2
    one_line(capsys.readouterr().err, "is a file, not a directory")
    assert main(["run", "--ops", OPS, "--examples", "1", "--out", str(a_file / "sub")]) == 2
    one_line(capsys.readouterr().err, "is a file, not a directory")
    assert main(["record", "--ops", OPS, "--examples", "1", "--out", str(tmp_path)]) == 2
    one_line(capsys.readouterr().err, "is a directory; name a file")
    assert a_file.read_text() == "precious"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken"]


def test_read_only_destinations_are_refused_before_any_case(shared_tmp):
    locked = shared_tmp / "locked"
    locked.mkdir()
    (locked / "latest.json").write_text("older")
    locked.chmod(0o555)
    for args in (["run", "--ops", OPS, "--examples", "1", "--out", locked],
                 ["run", "--ops", OPS, "--examples", "1", "--out", locked / "new" / "dir"],
                 ["record", "--ops", OPS, "--examples", "1", "--out", locked / "tf.npz"]):
        out = cli(*args, unprivileged=True, cwd=shared_tmp)
        assert out.returncode == 2, out.stderr[-2000:]
        one_line(out.stderr, "cannot write in", str(locked))
        assert "running" not in out.stderr  # refused before the plan ran
    # the default reports/ in a read-only working directory
    out = cli("run", "--ops", OPS, "--examples", "1", unprivileged=True, cwd=locked)
    assert out.returncode == 2
    one_line(out.stderr, "--out reports: cannot write in")
    assert snapshot(locked) == {"latest.json": b"older"}


def test_html_destinations_that_would_lose_something_are_refused(report_dir, shared_tmp, capsys):
    report = report_dir / "latest.json"
    before = report.read_bytes()
    for out, words in ((report, ("is the input", "itself")),
                       (report_dir / "." / "latest.json", ("is the input",)),
                       (report_dir, ("is a directory",)),
                       (report_dir / "missing" / "page.html", ("no directory",))):
        assert main(["html", str(report), "-o", str(out)]) == 2
        one_line(capsys.readouterr().err, *words)
    # html of an .html path with no -o would overwrite its own input
    page = report_dir / "latest.html"
    assert main(["html", str(page)]) == 2
    one_line(capsys.readouterr().err, "is the input")
    assert report.read_bytes() == before
    locked = shared_tmp / "ro"
    locked.mkdir()
    locked.chmod(0o555)
    out = cli("html", report, "-o", locked / "page.html", unprivileged=True, cwd=shared_tmp)
    assert out.returncode == 2
    one_line(out.stderr, "cannot write in")


# ------------------------------------------------------------ writes are atomic; a full disk
def test_html_on_a_full_disk_leaves_the_earlier_page_whole(report_dir, tmp_path):
    page = tmp_path / "page.html"
    page.write_text("<html>the earlier page</html>")
    out = cli("html", report_dir / "latest.json", "-o", page, fsize=4096)
    assert out.returncode == 3, out.stderr[-2000:]
    one_line(out.stderr, "cannot write", "File too large")
    assert page.read_text() == "<html>the earlier page</html>"
    assert [p.name for p in tmp_path.iterdir()] == ["page.html"]  # no temporary left


def test_record_on_a_full_disk_leaves_the_earlier_archive_whole(archive, tmp_path):
    from parity.report.archive import Archive

    target = tmp_path / "tf.npz"
    target.write_bytes(archive.read_bytes())
    # float32 and float64: TF computes them on every CPU setting (its bfloat16 kernels need AVX-512
    # under oneDNN), so the archive outgrows the limit wherever it runs
    out = cli("record", "--ops", "conv2d_same", "--examples", "3", "--dtypes", "float32,float64",
              "--out", target, fsize=4096)
    assert out.returncode == 3, out.stderr[-2000:]
    one_line(out.stderr, "cannot write archive", "untouched")
    assert target.read_bytes() == archive.read_bytes()
    assert len(Archive(target).plan) > 0
    assert [p.name for p in tmp_path.iterdir()] == ["tf.npz"]


def test_run_on_a_full_disk_says_so_and_never_leaves_a_stale_latest(report_dir, tmp_path):
    out_dir = tmp_path / "reports"
    out_dir.mkdir()
    for name in ("latest.json", "latest.html"):  # an earlier run's
        (out_dir / name).write_bytes((report_dir / name).read_bytes())
    out = cli("run", "--ops", OPS, "--examples", "2", "--out", out_dir, fsize=12_000)
    assert out.returncode == 3, out.stderr[-2000:]
    one_line(out.stderr, "cannot write the report", "File too large", "no report written")
    assert not any(out_dir.iterdir()), list(out_dir.iterdir())  # no stale latest, no partial


def test_run_whose_page_does_not_fit_keeps_its_json_and_drops_the_stale_page(report_dir,
                                                                            tmp_path):
    out_dir = tmp_path / "reports"
    out_dir.mkdir()
    (out_dir / "latest.html").write_text("an earlier run's page")
    # a page larger than the limit, the JSON well under it: the disk fills between the two
    driver = ("import sys, parity.report.html as h; render = h.render_html; "
              "h.render_html = lambda r: render(r) + ' ' * 200_000; "
              "from parity.cli import main; sys.exit(main(sys.argv[1:]))")
    env = dict(os.environ, PYTHONPATH=str(REPO))
    out = subprocess.run(
        [sys.executable, "-c", driver, "run", "--ops", OPS, "--examples", "2", "--out",
         str(out_dir)], capture_output=True, text=True, env=env,
        preexec_fn=lambda: (signal.signal(signal.SIGXFSZ, signal.SIG_IGN),
                            resource.setrlimit(resource.RLIMIT_FSIZE, (100_000, 100_000))))
    assert out.returncode == 3, out.stderr[-2000:]
    one_line(out.stderr, "but not its HTML page", "File too large")
    names = sorted(p.name for p in out_dir.iterdir())
    assert names[0] == "latest.json" and names[1].startswith("run-") and len(names) == 2, names
    assert load_report(out_dir / "latest.json")["complete"] is True


# ------------------------------------------------------------ plans that mean nothing
@pytest.mark.parametrize("args, words", [
    (["--variants", "nope"], ("unknown variant(s) nope",)),
    (["--ops", OPS, "--variants", "ceil"], ("unknown variant(s) ceil",)),
    (["--ops", ""], ("names nothing",)),
    (["--ops", ",,"], ("names nothing",)),
    (["--ops", f"{OPS},{OPS}"], ("more than once",)),
    (["--ops", OPS, "--variants", "port,port"], ("more than once",)),
    (["--dtypes", "float32,float32"], ("more than once",)),
    (["--examples", str(10**20)], ("--examples must be between 1 and 100,000",)),
    (["--examples", "0"], ("--examples must be between",)),
    (["--workers", "0"], ("--workers must be at least 1",)),
    (["--workers", "4096"], ("more than this machine's",)),
    (["--ops", OPS, "--examples", "1", "--shard", "3/2"], ("--shard must be i/n",)),
])
def test_plans_that_mean_nothing_are_refused(args, words, tmp_path, capsys):
    assert main(["run", *args, "--out", str(tmp_path / "r")]) == 2
    one_line(capsys.readouterr().err, *words)
    assert not (tmp_path / "r").exists()


def test_more_workers_than_cases_is_refused_wherever_the_cores_allow_them(tmp_path, capsys,
                                                                         monkeypatch):
    from parity.flows import plan

    monkeypatch.setattr(plan, "cores", lambda: 64)
    assert main(["run", "--ops", OPS, "--variants", "port", "--examples", "3", "--workers",
                 "16", "--out", str(tmp_path)]) == 2
    one_line(capsys.readouterr().err, "--workers 16 for 3 cases")
    assert not any(tmp_path.iterdir())


def test_an_empty_shard_is_refused(tmp_path, capsys):
    # 2 cases over 50 shards: most shards are empty
    empty = next(i for i in range(1, 51) if main(["run", "--ops", OPS, "--variants", "port",
                                                  "--examples", "1", "--shard", f"{i}/50",
                                                  "--out", str(tmp_path / str(i))]) == 2)
    one_line(capsys.readouterr().err, f"shard {empty}/50 of this plan is empty")


@pytest.mark.parametrize("flag", [["--seed", "1"], ["--examples", "3"], ["--profile", "ci"]])
def test_reference_refuses_the_flags_that_make_a_plan(archive, flag, tmp_path, capsys):
    assert main(["run", "--reference", str(archive), *flag, "--out", str(tmp_path)]) == 2
    one_line(capsys.readouterr().err, f"{flag[0]} cannot be used with --reference")


@pytest.mark.parametrize("flag, words", [
    (["--ops", "conv2d_same"], ("holds no cases of ops conv2d_same",)),
    (["--ops", "nope"], ("holds no cases of ops nope",)),
    (["--variants", "ceil"], ("holds no cases of variants ceil",)),
    (["--dtypes", "bfloat16"], ("holds no cases of dtype(s) bfloat16",)),
    (["--ops", ""], ("names nothing",)),
])
def test_reference_selections_the_archive_lacks_are_refused(archive, flag, words, tmp_path,
                                                            capsys):
    assert main(["run", "--reference", str(archive), *flag, "--out", str(tmp_path)]) == 2
    one_line(capsys.readouterr().err, *words)


def test_reference_honours_variants_dtypes_and_shards(archive, tmp_path):
    from parity.report.archive import Archive

    plan = Archive(archive).plan
    assert main(["run", "--reference", str(archive), "--variants", "native", "--dtypes",
                 "float64", "--out", str(tmp_path / "a")]) == 0
    cases = load_report(tmp_path / "a" / "latest.json")["cases"]
    want = [c for c in plan if c[1] == "native" and c[2]["dtype"] == "float64"]
    assert len(cases) == len(want) > 0
    assert {(c["variant"], c["dtype"]) for c in cases} == {("native", "float64")}
    ids = []
    for i in (1, 2):
        main(["run", "--reference", str(archive), "--shard", f"{i}/2", "--out",
              str(tmp_path / str(i))])
        ids += [c["id"] for c in load_report(tmp_path / str(i) / "latest.json")["cases"]]
    assert len(ids) == len(set(ids)) == len(plan)


# ------------------------------------------------------------ crafted or broken reports
def _crafted(report: dict, tmp_path: Path) -> dict:
    text = json.dumps(report)
    deep = copy.deepcopy(report)
    deep["cases"][0]["config"]["shape"] = ["a", "b"]  # l2_normalize: its spatial shape
    builtins = copy.deepcopy(report)
    builtins["cases"][0]["config"]["__builtins__"] = {}
    twice = copy.deepcopy(report)
    twice["cases"].append(copy.deepcopy(twice["cases"][0]))
    moved = copy.deepcopy(report)
    moved["cases"][0]["seed"] += 1
    files = {
        "utf16": (text.encode("utf-16"), "is not UTF-8 text"),
        "latin1": (text.replace('"run"', '"r\u00e9n"', 1).encode("latin-1"), "is not UTF-8"),
        "nested": (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        "bigint": (b'{"schema_version": ' + b"9" * 5000 + b"}", "more than 4,300 digits"),
        "nan": (text.replace('"max_abs_diff": 0.0', '"max_abs_diff": NaN', 1).encode(),
                "non-standard JSON literal NaN"),
        "inf": (text.replace('"max_abs_diff": 0.0', '"max_abs_diff": 1e999', 1).encode(),
                "overflows a float"),
        "types": (json.dumps(deep).encode(), "must be a list of integers"),
        "builtins": (json.dumps(builtins).encode(), "unknown field(s) __builtins__"),
        "twice": (json.dumps(twice).encode(), "the id appears twice"),
        "moved": (json.dumps(moved).encode(), "the id is not that of"),
    }
    assert '"max_abs_diff": 0.0' in text
    out = {}
    for name, (data, words) in files.items():
        (tmp_path / f"{name}.json").write_bytes(data)
        out[name] = (tmp_path / f"{name}.json", words)
    return out


def test_crafted_reports_are_exit_2_for_every_command_that_reads_them(report_dir, tmp_path,
                                                                      capsys):
    good = report_dir / "latest.json"
    report = json.loads(good.read_text())
    report["cases"][0]["outputs"]["y"]["max_abs_diff"] = 0.0
    for name, (path, words) in _crafted(report, tmp_path).items():
        for args in (["compare", str(good), str(path)], ["html", str(path), "-o",
                                                         str(tmp_path / "p.html")],
                     ["merge", str(good), str(path), "--out", str(tmp_path / "m")],
                     ["replay", str(path), "--out", str(tmp_path / "r")]):
            assert main(args) == 2, (name, args)
            one_line(capsys.readouterr().err, words)
    assert not (tmp_path / "p.html").exists()
    assert not (tmp_path / "m").exists() and not (tmp_path / "r").exists()


# ------------------------------------------------------------ crafted or broken archives
def _manifest(archive) -> dict:
    from parity.report.archive import Archive

    return copy.deepcopy(Archive(archive).manifest)


def _with_manifest(archive, target: Path, manifest) -> Path:
    with np.load(archive) as z:
        arrays = {k: z[k] for k in z.files if k != "__manifest__"}
    np.savez(target, __manifest__=np.array(json.dumps(manifest)), **arrays)
    return target


def test_broken_and_crafted_archives_are_exit_2_before_any_case(archive, tmp_path, capsys):
    import io

    d = tmp_path
    (d / "empty.npz").write_bytes(b"")
    np.save(d / "bare.npy", np.zeros(3))
    (d / "truncated.npz").write_bytes(archive.read_bytes()[: archive.stat().st_size // 2])
    m = _manifest(archive)
    no_cases = {k: v for k, v in m.items() if k != "cases"}
    short = dict(m, cases=[m["cases"][0][:2]])
    bad_config = copy.deepcopy(m)
    bad_config["cases"][0][2]["stride"] = ["a"]
    bad_entry = copy.deepcopy(m)
    next(iter(bad_entry["entries"].values()))["refused"] = "no"
    lacking = copy.deepcopy(m)
    next(e for e in lacking["entries"].values() if not e["refused"])["arrays"].append("zz")
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(header, {"descr": "<f8", "fortran_order": False,
                                                  "shape": (10**11,)})
    with zipfile.ZipFile(d / "liar.npz", "w") as z:
        z.writestr("__manifest__.npy", header.getvalue() + b"\0" * 64)
    with zipfile.ZipFile(d / "bomb.npz", "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("big.npy", b"\0" * 2_000_000)  # 2 MB of zeros: 2 KB compressed
    cases = {
        d / "empty.npz": "not an archive written by parity record",
        d / "bare.npy": "not an archive written by parity record",
        d / "truncated.npz": "not an archive written by parity record",
        _with_manifest(archive, d / "list.npz", [1, 2]): "manifest is not a JSON object",
        _with_manifest(archive, d / "future.npz", dict(m, format=9)): "archive format 9",
        _with_manifest(archive, d / "nocases.npz", no_cases): "'cases' is a required property",
        _with_manifest(archive, d / "short.npz", short): "is too short",
        _with_manifest(archive, d / "config.npz", bad_config): "must be a list of integers",
        _with_manifest(archive, d / "entry.npz", bad_entry): "is not of type 'boolean'",
        _with_manifest(archive, d / "lacking.npz", lacking): "lacks array(s) zz",
        d / "liar.npz": "its header claims 800000000128 bytes",
        d / "bomb.npz": "decompresses to",
    }
    os.environ["PARITY_ARCHIVE_MAX_BYTES"] = "1000000"
    try:
        for path, words in cases.items():
            assert main(["run", "--reference", str(path), "--out", str(d / "out")]) == 2, path
            one_line(capsys.readouterr().err, words)
    finally:
        del os.environ["PARITY_ARCHIVE_MAX_BYTES"]
    assert not (d / "out").exists()


# ------------------------------------------------------------ compare and merge say what they join
@pytest.mark.parametrize("factor", ["nanx", "infx", "1x", "0.5x", "-3x"])
def test_fail_on_factors_that_cannot_mean_growth_are_refused(report_dir, factor, capsys):
    good = str(report_dir / "latest.json")
    assert main(["compare", good, good, "--fail-on", f"max_abs_diff:{factor}"]) == 2
    one_line(capsys.readouterr().err, "must be a finite number > 1")
    assert main(["compare", good, good]) == 0


@pytest.fixture(scope="module")
def shards(tmp_path_factory):
    out = tmp_path_factory.mktemp("shards")
    for i in (1, 2):
        main(["run", "--ops", OPS, "--examples", "3", "--shard", f"{i}/2", "--out",
              str(out / str(i))])
    return [out / str(i) / "latest.json" for i in (1, 2)]


def test_merge_refuses_reports_that_are_not_parts_of_one_plan(shards, tmp_path, capsys):
    first = json.loads(shards[0].read_text())
    variants = {
        "seed": lambda r: r["run"].update(seed=7),
        "dtypes": lambda r: r["run"].update(dtypes=["float32"]),
        "ops": lambda r: r["run"].update(ops=["conv2d_same"]),
        "examples": lambda r: r["run"].update(examples=99),
        "shapes": lambda r: r["run"].update(shapes="realistic"),
        "schema_version": lambda r: (r.update(schema_version=1),
                                     [d.pop("intermittent") for d in r["divergences"]]),
    }
    for key, change in variants.items():
        other = copy.deepcopy(first)
        change(other)
        path = tmp_path / f"{key}.json"
        path.write_text(json.dumps(other))
        assert main(["merge", str(shards[1]), str(path), "--out", str(tmp_path / "m")]) == 2
        one_line(capsys.readouterr().err, f"differ in {key}")
    audit = copy.deepcopy(first)
    audit["run"]["command"] = "audit"
    (tmp_path / "audit.json").write_text(json.dumps(audit))
    assert main(["merge", str(shards[1]), str(tmp_path / "audit.json"), "--out",
                 str(tmp_path / "m")]) == 2
    one_line(capsys.readouterr().err, "is an audit report")
    assert not (tmp_path / "m").exists()


def test_merge_of_one_plans_shards_records_each_source(shards, tmp_path, capsys):
    moved = json.loads(shards[1].read_text())
    moved["environment"]["machine"] = "elsewhere"
    (tmp_path / "2.json").write_text(json.dumps(moved))
    assert main(["merge", str(shards[0]), str(tmp_path / "2.json"), "--out",
                 str(tmp_path / "m")]) == 0
    run = load_report(tmp_path / "m" / "latest.json")["run"]
    assert [d["shard"] for d in run["source_details"]] == ["1/2", "2/2"]
    assert run["source_details"][0]["environment_differences"] == []
    assert any("machine" in line for line in run["source_details"][1]["environment_differences"])


# ------------------------------------------------------------ terminal output
def test_control_characters_from_a_report_are_escaped_when_printed(report_dir, tmp_path,
                                                                   capsys):
    good = report_dir / "latest.json"
    report = json.loads(good.read_text())
    case = report["cases"][0]
    case["status"], case["error"] = "error", "harness: \x1b[2J\x1b]0;owned\x07\rfake line\u202e"
    path = tmp_path / "ansi.json"
    path.write_text(json.dumps(report))
    assert main(["compare", str(good), str(path)]) == 1
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\r" not in out and "\u202e" not in out
    assert "\\x1b[2J" in out and "\\r" in out
    assert main(["merge", str(path), "--out", str(tmp_path / "m")]) == 1
    out = capsys.readouterr().out
    assert "\x1b" not in out and "\\x1b]0;owned\\x07" in out


# ------------------------------------------------------------ processes
def _descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = set(), [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not Path("/proc").exists(), reason="reads the process tree from /proc")
def test_sigterm_stops_the_workers_too_even_a_stuck_one(tmp_path):
    """A process of the run that does not answer (stopped here with SIGSTOP, as one stuck in
    a kernel would be: the newest of them, a worker, the server the workers are forked from, a
    worker's own side process...) still ends with the run: the run kills each worker's process
    group and the server, and a side process dies with its worker."""
    proc = ParityProcess(["run", "--ops", "conv3d_same", "--examples", "60", "--workers", "2",
                          "--out", str(tmp_path)], text=True)
    try:
        workers: set[int] = set()
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:  # the server, its resource tracker, a worker
            workers = _descendants(proc.pid)
            if len(workers) >= 3:
                break
            time.sleep(0.5)
        assert len(workers) >= 3, workers
        time.sleep(3)
        workers = _descendants(proc.pid)
        stuck = max(workers)
        os.kill(stuck, signal.SIGSTOP)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=90)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err[-2000:]
    time.sleep(0.5)
    assert not [p for p in workers if _alive(p)], [p for p in workers if _alive(p)]
    assert load_report(tmp_path / "latest.json")["complete"] is False


def test_sigterm_during_record_exits_130_and_keeps_the_cases_recorded(tmp_path):
    from parity.report.archive import Archive

    target = tmp_path / "tf.npz"
    proc = ParityProcess(["record", "--ops", "conv3d_same", "--examples", "200", "--out",
                          str(target)], text=True)
    try:
        for line in proc.stderr:  # progress: "parity: running N cases", then every tenth
            if line.startswith("parity: ") and "/" in line:
                break
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, out
    assert "interrupted" in out and "complete: false" in out
    partial = Archive(target)
    assert partial.complete is False and 0 < len(partial.plan) < 600


def test_sigterm_outside_the_case_loop_is_an_interruption_not_a_silent_death():
    """Before any case runs (imports, planning), SIGTERM is exit 130 with one line; the
    handler is the command's only while it lasts."""
    import parity.cli

    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(KeyboardInterrupt):
        with parity.cli._sigterm_interrupts():
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)
    assert signal.getsignal(signal.SIGTERM) == before


def test_a_reader_that_leaves_early_ends_the_command_quietly():
    """``parity list | head``: exit 141 (as a shell reports SIGPIPE), no traceback."""
    proc = subprocess.Popen([sys.executable, "-m", "parity", "list", "--verbose"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # the reader is gone before the first line
    err = proc.stderr.read().decode()
    assert proc.wait(60) == 141 and err == "", err
