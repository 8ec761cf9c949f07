"""The HTML report: self-contained, rendered from a real run, checked in headless Chromium."""
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from parity import cli
from parity.flows.session import run_sweep

ARTIFACT = Path(__file__).resolve().parents[1] / "reports" / "artifacts" / "html_report.png"


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    out = tmp_path_factory.mktemp("html")
    _, path = run_sweep(["conv3d_same", "init_he_normal", "l2_normalize"], examples=4, seed=2,
                        dtypes=("float32", "float64"), out_dir=out)
    return path, path.with_suffix(".html")


def test_every_run_writes_a_self_contained_page(page):
    json_path, html = page
    text = html.read_text()
    assert (json_path.parent / "latest.html").read_text() == text
    assert not re.search(r"<(script|link|img)[^>]+(src|href)=", text)
    assert not re.findall(r"https?://(?!www\.w3\.org/2000/svg)", text)
    for part in ("Environment", "Summary per op and variant", "Known divergences",
                 "init_he_normal", "known_divergence", "import parity", "<svg", "judged: y by "):
        assert part in text, part


def test_parity_html_renders_a_report_file(page, tmp_path, capsys):
    out = tmp_path / "page.html"
    assert cli.main(["html", str(page[0]), "-o", str(out)]) == 0
    assert out.read_text() == page[1].read_text()
    assert cli.main(["html", str(tmp_path / "missing.json")]) == 2


@pytest.mark.skipif(shutil.which("chromium") is None,
                    reason="chromium not installed (make test installs it with apt-get)")
def test_page_runs_in_headless_chromium_without_errors(page):
    common = ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
              "--window-size=1400,1800", "--enable-logging=stderr", "--v=0"]
    url = page[1].resolve().as_uri()
    dom = subprocess.run(common + ["--dump-dom", url], capture_output=True, text=True,
                         timeout=120)
    body = re.search(r"<body[^>]*>", dom.stdout).group(0)
    assert 'data-ready="1"' in body, body          # every script ran to its end
    assert "data-errors" not in body, body          # no uncaught error was raised
    assert 'data-summary-visible="true"' in body, body
    assert "Uncaught" not in dom.stderr, dom.stderr[-2000:]
    ARTIFACT.parent.mkdir(parents=True, exist_ok=True)
    ARTIFACT.unlink(missing_ok=True)
    subprocess.run(common + [f"--screenshot={ARTIFACT}", url], capture_output=True, timeout=120)
    assert ARTIFACT.stat().st_size > 10_000


def test_unexpected_cases_come_first_and_known_ones_are_grouped_by_divergence(page):
    """The banner links to the unexpected cases, listed before anything else; known and
    refused cases are one row per divergence with its count, not a flat list; scatter plots
    name their dtypes."""
    import json

    from parity.report import load_report
    from parity.report.html import render_html

    report = load_report(page[0])
    known = {}
    for c in report["cases"]:
        if c["divergence"]:
            known[c["divergence"]] = known.get(c["divergence"], 0) + 1
    assert known  # the fixture's run has known divergences to group
    quiet = render_html(report)
    assert 'id="unexpected"' not in quiet and 'href="#unexpected"' not in quiet
    broken = json.loads(json.dumps(report))
    victim = next(c for c in broken["cases"] if c["status"] == "pass")
    victim["status"] = "fail"
    broken["summary"][0]["unexpected"] = 1
    text = render_html(broken)
    assert 'href="#unexpected">the 1 unexpected case first</a>' in text
    assert text.index('id="unexpected"') < text.index("<h2>Environment")
    section = text[text.index('id="unexpected"'):text.index("<h2>Environment")]
    assert victim["id"] in section and section.count('<tr class="bad">') == 1
    groups = text[text.index('<table id="known"'):text.index("<h2>Known divergences")]
    rows = re.findall(r'<tr class="known">\s*<td>([^<]+)</td><td class="num">(\d+)</td>', groups)
    assert {k: int(n) for k, n in rows} == known
    legends = re.findall(r'<g class="legend">(.*?)</g>', text)
    assert legends and all("float32" in g or "float64" in g for g in legends)
