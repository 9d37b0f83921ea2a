"""The reports: report.md scorecard, junit.xml, findings.json, and report.html in Chromium."""

from __future__ import annotations

import json
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from chaosbench.analysis.gate import load_gate
from chaosbench.analysis.model import Integrity
from chaosbench.analysis.outcome import Verdict
from chaosbench.analysis.report import write_reports
from chaosbench.analysis.synthetic import SyntheticSpec, generate
from chaosbench.analysis.verdict import evaluate
from tests.analysis.pngcheck import colour_stats, decode

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture(scope="module")
def failed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Verdict, Path]:
    integ = Integrity(orders_acknowledged=300, orders_lost=2, checked=True, ws_messages=900)
    run = generate(SyntheticSpec(seed=12, integrity=integ, rto_s=[4.0, 6.0]))
    v = evaluate(run, load_gate(str(ROOT / "gates/tight.yaml")), None)
    out = tmp_path_factory.mktemp("reports")
    write_reports(out, v)
    return v, out


def test_markdown_scorecard(failed: tuple[Verdict, Path]) -> None:
    v, out = failed
    md = (out / "report.md").read_text()
    assert md.startswith("## chaosbench: ❌ fail — exit 1")
    assert "### Recovery scorecard" in md and "| 1 | pg-latency |" in md
    assert "4.0 s / 3 s" in md  # recovery time against the tight limit
    for r in v.results:
        assert f"| {r.title} |" in md
    assert "2 lost" in md
    assert "❌ fail (p95_regression, p99_ceiling, recovery_time)" in md  # per burst, per criterion
    assert "Bursts: 0 passed, 2 failed, 0 other." in md
    assert len(md.splitlines()) < 40  # short enough for a PR comment


def test_junit_parses_with_one_case_per_criterion(failed: tuple[Verdict, Path]) -> None:
    v, out = failed
    root = ET.parse(out / "junit.xml").getroot()
    cases = root.findall("./testsuite/testcase")
    assert [c.get("name") for c in cases] == [r.name for r in v.results]
    failures = {c.get("name") for c in cases if c.find("failure") is not None}
    assert {"p95_regression", "recovery_time", "orders"} <= failures
    suite = root.find("testsuite")
    assert suite is not None and int(suite.get("failures", "0")) == len(failures)
    assert int(suite.get("tests", "0")) == len(v.results)


def test_findings_have_severity_and_recommendation(failed: tuple[Verdict, Path]) -> None:
    _, out = failed
    data = json.loads((out / "findings.json").read_text())
    assert data["verdict"] == "fail" and data["exit_code"] == 1
    fs = data["findings"]
    crits = {f["criterion"]: f for f in fs}
    assert crits["orders"]["severity"] == "high"
    assert crits["p95_regression"]["severity"] == "high"  # +1000 % against +10 %
    assert all(f["recommendation"] and f["evidence"] for f in fs)
    sev = [f["severity"] for f in fs]
    assert sev == sorted(sev, key=["high", "medium", "low"].index)


def test_html_is_self_contained(failed: tuple[Verdict, Path]) -> None:
    _, out = failed
    html = (out / "report.html").read_text()
    assert "<svg" in html and "<script" not in html
    assert "http://" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")
    assert "https://" not in html
    assert html.count("<svg") >= 5  # latency, throughput, errors, one per kind
    assert html.count("recovered +4s") >= 2 and "baseline band" in html  # marks and band
    assert "burst1" in html and "burst2" in html  # shaded bursts are labelled


def test_aa_markdown_says_pass(tmp_path: Path) -> None:
    integ = Integrity(orders_acknowledged=50, checked=True, ws_messages=100)
    v = evaluate(
        generate(SyntheticSpec(seed=16, added_ms=0.0, integrity=integ)), load_gate(None), None
    )
    md = write_reports(tmp_path, v).markdown.read_text()
    assert md.startswith("## chaosbench: ✅ pass — exit 0") and "❌" not in md


def test_html_renders_in_headless_chromium(failed: tuple[Verdict, Path], tmp_path: Path) -> None:
    _, out = failed
    shot = tmp_path / "shot.png"
    args = [
        CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={shot}",
        "--window-size=1280,2000", (out / "report.html").as_uri(),
    ]  # fmt: skip
    subprocess.run(args, capture_output=True, timeout=90, check=False)
    assert shot.exists(), "chromium wrote no screenshot"
    img = decode(shot)
    assert img.shape[:2] == (2000, 1280)
    distinct, non_white = colour_stats(img)
    assert distinct > 50 and 0.02 < non_white < 0.9
    # The charts are drawn: burst shading (#f4a261 at 25 % on white) and p95 lines (#e76f51).
    px = img.reshape(-1, 3).astype(int)
    shade = np.abs(px - [252, 232, 215]).sum(axis=1) <= 6
    line = np.abs(px - [231, 111, 81]).sum(axis=1) <= 30
    assert shade.sum() > 20_000 and line.sum() > 300


def test_reports_for_a_run_that_cannot_be_measured(tmp_path: Path) -> None:
    run = generate(SyntheticSpec(seed=13))
    run.windows = []
    v = evaluate(run, load_gate(None), None)
    paths = write_reports(tmp_path, v)
    assert "cannot measure" in paths.markdown.read_text()
    root = ET.parse(paths.junit).getroot()
    assert root.find("./testsuite/testcase/error") is not None
    assert json.loads(paths.findings.read_text())["exit_code"] == 2
    assert "<svg" in paths.html.read_text()


def test_html_escapes_every_value(tmp_path: Path) -> None:
    """Request names, kinds and fault names with markup in them come out as text, everywhere
    (tables, the p95 'where', chart labels, the RTO rows), never as markup."""
    import re

    from chaosbench.analysis.synthetic import KeySpec

    keys = [
        KeySpec("PG<script>&", "<script>alert('x')</script> & q", 60, 10.0),
        KeySpec("HTTP&co", 'GET /a?x=1&y=<2>"', 80, 20.0),
    ]
    spec = SyntheticSpec(seed=5, keys=keys, fault="<script>kill</script>&", rto_s=[4.0])
    v = evaluate(generate(spec), load_gate(None), None)
    html = write_reports(tmp_path, v).html.read_text()
    assert "<script" not in html.lower()
    stray = re.findall(r"&(?!(?:amp|lt|gt|quot|#\d+|#x[0-9a-fA-F]+);)", html)
    assert not stray, "unescaped '&' in report.html"
    assert "&lt;script&gt;alert(" in html and "&amp; q" in html
    assert "GET /a?x=1&amp;y=&lt;2&gt;" in html
    assert "RTO &lt;script&gt;kill&lt;/script&gt;&amp;" in html
    # the worst kind of a burst's p95 regression (its 'where'), escaped too
    assert re.search(r"\((PG&lt;script&gt;&amp;|HTTP&amp;co)\)", html)
