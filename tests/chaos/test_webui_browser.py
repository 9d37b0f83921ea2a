"""The Chaos tab inside Locust's web UI, in a real browser (headless Chromium over DevTools).

A test is started from Locust's own form; during the burst the tab shows the phase, the active
fault and the time left; its kill switch reverts the fault (checked on the proxy API); after the
test is stopped from Locust's Stop button its verdict appears in the tab, with a link to the
report served by the same web UI (and nothing else of the disk); a second test started from
Locust's "New" form gets its own run directory and verdict.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from tests.chaos.webui_support import CHROMIUM, Page, WebSession, start_browser, start_web_session
from tests.conftest import wait_until

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (.ci/run installs it)"),
]

PHASES = "{warmup: 0, baseline: 3s, burst_on: 40s, burst_off: 2s, bursts: 1, cooldown: 0}"
FAULTS = "  - {name: lat, type: latency, route: redis, latency_ms: 30}"


def start_from_form(page: Page, session: WebSession, button: str) -> None:
    """Locust's form (``button``: Start on a fresh UI, New after a stop), then the Chaos tab."""
    try:
        if button == "New":
            wait_until(lambda: page.click_button("New"), timeout=30)
        else:  # as a person would: once the page has its first statistics (a Start clicked
            # before lets that late "ready" answer put Locust's UI back on its form)
            wait_until(page.stats_loaded, timeout=30)
        wait_until(lambda: page.click_button("Start"), timeout=20)
        wait_until(lambda: session.status()["runner"] in ("spawning", "running"), timeout=30)
        wait_until(page.open_chaos_tab, timeout=30)
        wait_until(lambda: page.eval("!!document.getElementById('cb-panel')"), timeout=30)
    except AssertionError as exc:
        where = page.eval("location.href + ' | ' + document.body.innerText.slice(0, 300)")
        raise AssertionError(f"{exc}; the page: {where}") from None


def judged(page: Page, run_id: str | None = None) -> bool:
    state = page.eval("(document.getElementById('cb-verdict') || {dataset: {}}).dataset.state")
    run = page.eval("(document.getElementById('cb-verdict') || {dataset: {}}).dataset.run")
    return bool(state == "judged" and (run_id is None or run != run_id))


def test_chaos_tab_live_kill_switch_and_verdicts(tmp_path: Path, spawn: Any) -> None:
    session = start_web_session(spawn, tmp_path, PHASES, FAULTS)
    page = start_browser(spawn, tmp_path)
    page.call("Page.navigate", url=session.url + "/")
    start_from_form(page, session, "Start")

    # during the burst: the current phase, the active fault, the time left
    wait_until(lambda: page.text("#cb-phase") == "Burst 1", timeout=30)
    wait_until(lambda: "lat" in page.text("#cb-active"), timeout=20)
    assert re.fullmatch(r"\d+s", page.text("#cb-phase-left")), page.text("#cb-phase-left")
    assert re.fullmatch(r"\d+s", page.text("#cb-profile-left")), page.text("#cb-profile-left")
    assert page.text("#cb-next") == "Recovery 1"
    assert page.eval("document.querySelector('#cb-timeline [data-state=current]').dataset.label")\
        == "burst1"  # fmt: skip
    assert "active" in page.text("#cb-faults tr[data-fault=lat]")
    assert session.proxy.toxics("redis")  # the fault is on the proxy

    # the kill switch reverts on the proxy, the tab says so, the load goes on
    assert page.eval("document.getElementById('cb-kill').disabled") is False
    page.eval("document.getElementById('cb-kill').click()")
    wait_until(lambda: session.proxy.toxics("redis") == [], timeout=20)
    wait_until(lambda: "kill_switch" in page.text("#cb-state"), timeout=20)
    assert page.text("#cb-active") == "none"
    assert session.locust.popen.poll() is None
    assert session.status()["stop_reason"] == "kill_switch"

    # the old page leads to the tab; a report of an unknown run is not served
    assert session.get("/chaos/runs/nope/report.html")[0] == 404
    code, body = session.get("/chaos")  # redirected to Locust's index with the tab's script
    assert code == 200 and b"chaos/tab.js" in body

    first = session.status()["runs"]
    assert first, "the running test has no TestRun in harness.runs"
    run_id = first[-1]["run_id"]

    # stopped from Locust's own Stop button: the verdict of this test, in the tab
    wait_until(lambda: page.click_button("Stop"), timeout=20)
    wait_until(lambda: judged(page), timeout=90)
    assert page.eval("document.getElementById('cb-verdict').dataset.run") == run_id
    assert page.text("#cb-verdict-status") in ("PASS", "FAIL", "INCONCLUSIVE", "CANNOT MEASURE")
    assert page.eval("document.querySelectorAll('#cb-criteria tbody tr').length") > 0
    run_dir = Path(page.text("#cb-run-dir"))
    assert (run_dir / "report.html").is_file() and run_dir.parent == session.results
    href = str(page.eval("document.getElementById('cb-report').getAttribute('href')"))
    code, body = session.get("/" + href)
    assert code == 200 and body == (run_dir / "report.html").read_bytes()
    # only the reports of known runs: no other file, no path out of the run directory
    for bad in ("meta.json", "..%2F..%2Fetc%2Fpasswd", "..%2Fmeta.json", "%2E%2E"):
        assert session.get(f"/chaos/runs/{run_id}/{bad}")[0] == 404, bad

    # a second test from Locust's form: its own run directory and its own verdict
    start_from_form(page, session, "New")
    wait_until(lambda: page.text("#cb-phase") in ("Baseline", "Burst 1"), timeout=30)
    wait_until(lambda: page.click_button("Stop"), timeout=20)
    wait_until(lambda: judged(page, run_id), timeout=90)
    second = Path(page.text("#cb-run-dir"))
    assert second != run_dir and (second / "report.html").is_file()
    assert (run_dir / "report.html").is_file()  # the first test's report is still there
    runs = session.status()["runs"]
    assert [r["run_dir"] for r in runs] == [str(run_dir), str(second)]
    assert all(r["judged"] for r in runs)
    assert page.eval("document.querySelectorAll('#cb-runs tbody tr').length") == 2
