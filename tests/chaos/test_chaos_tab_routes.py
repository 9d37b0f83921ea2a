"""The Chaos tab's server side in-process, on Locust's real web UI (Flask's test client): the
seam (tab, table, extended stats, the script on the index), the verdict view of a real judged
run directory, the report route that serves only the reports of known runs, and the live
per-kind p95 with its baseline band from Locust's own statistics."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from locust import User
from locust.env import Environment
from locust.event import Events
from locust.stats import RequestStats

from chaosbench.analysis.gate import load_gate
from chaosbench.analysis.limits import RecoveryTime
from chaosbench.analysis.report import write_reports
from chaosbench.analysis.synthetic import SyntheticSpec, generate
from chaosbench.analysis.verdict import evaluate
from chaosbench.ground.timeline import Phase, PhaseMark, PhaseTimeline
from chaosbench.wiring import webui
from chaosbench.wiring.harness import Harness, TestRun
from chaosbench.wiring.webui.live import LiveKinds


class _Nobody(User):
    abstract = False

    def on_start(self) -> None:  # never started: the runner is only for the web UI
        raise AssertionError("no user runs in this test")


@pytest.fixture()
def web(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, Harness]]:
    monkeypatch.setattr(sys, "argv", ["locust"])  # Locust's index parses the command line
    env = Environment(user_classes=[_Nobody], events=Events())  # its own events, not Locust's
    env.create_local_runner()
    ui = env.create_web_ui("127.0.0.1", 0, delayed_start=True)
    harness = Harness.of(env)
    webui.install(ui, harness)
    yield ui.app.test_client(), harness
    env.events.quitting.fire(environment=env)  # ends the tab's ticker


def judged_run(tmp_path: Path) -> tuple[TestRun, Any]:
    spec = SyntheticSpec(seed=12, baseline_s=15, burst_off_s=15, cooldown_s=2, rto_s=[4.0, 6.0])
    run = generate(spec)
    v = evaluate(run, load_gate(None), None)
    run_dir = tmp_path / "runs" / "20261202-000000-abcdef"
    write_reports(run_dir, v)
    (run_dir / "meta.json").write_text("{}")
    (tmp_path / "runs" / "secret.txt").write_text("not served")
    test = TestRun("20261202-000000-abcdef", run_dir, time.time(), time.time(), v.exit_code, "x\n")
    return test, v


def test_seam_tab_table_script_and_redirect(web: tuple[Any, Harness]) -> None:
    client, _harness = web
    index = client.get("/").get_data(as_text=True)
    assert '<script src="./chaos/tab.js"></script></body>' in index
    args = json.loads(index.split("window.templateArgs = ")[1].split("\n")[0])
    assert {"title": "Chaos", "key": "chaos"} in args["extended_tabs"]
    assert [t["key"] for t in args["extended_tables"]] == ["chaos"]
    stats = client.get("/stats/requests").get_json()
    assert stats["extended_stats"] == [{"key": "chaos", "data": []}]
    assert stats["state"] == "ready" and stats["user_count"] == 0
    assert "Kill switch" in client.get("/chaos/tab.js").get_data(as_text=True)
    redirect = client.get("/chaos")
    assert redirect.status_code == 302 and redirect.headers["Location"].endswith("/?tab=chaos")
    status = client.get("/chaos/status").get_json()
    assert status["state"] == "not started" and status["run"] is None and status["runs"] == []


def test_verdict_view_and_only_known_reports_served(
    web: tuple[Any, Harness], tmp_path: Path
) -> None:
    client, harness = web
    test, v = judged_run(tmp_path)
    harness.runs.append(test)
    run = client.get("/chaos/status").get_json()["run"]
    assert run["run_id"] == test.run_id and run["judged"] and run["exit_code"] == v.exit_code
    assert run["verdict"] == v.status.value and run["verdict_text"] == "x\n"
    assert [c["name"] for c in run["criteria"]] == [r.name for r in v.results]
    assert {c["status"] for c in run["criteria"]} == {r.status.value for r in v.results}
    assert all(c["limit"].startswith("≤") for c in run["criteria"])
    assert v.analysis is not None
    assert [r["burst"] for r in run["recoveries"]] == [r.burst for r in v.analysis.recoveries]
    assert run["report_url"] == f"chaos/runs/{test.run_id}/report.html"

    answer = client.get("/" + run["report_url"])
    assert answer.status_code == 200 and answer.data == (test.run_dir / "report.html").read_bytes()
    assert client.get(f"/chaos/runs/{test.run_id}/findings.json").status_code == 200
    for bad in (
        f"/chaos/runs/{test.run_id}/meta.json",  # a file of the run, not a report
        f"/chaos/runs/{test.run_id}/..%2Fsecret.txt",
        f"/chaos/runs/{test.run_id}/%2E%2E%2Fsecret.txt",
        f"/chaos/runs/{test.run_id}/../secret.txt",
        "/chaos/runs/..%2F/secret.txt",
        "/chaos/runs/20261202-000000-other/report.html",  # not a run of this session
    ):
        answer = client.get(bad, follow_redirects=True)  # Werkzeug may first clean the path
        assert answer.status_code == 404 and b"not served" not in answer.data, bad


def _entries(stats: RequestStats, kind: str, times_ms: list[float]) -> None:
    for rt in times_ms:
        stats.log_request(kind, "PING", rt, 0)


def test_live_p95_and_band_from_locust_stats() -> None:
    timeline = PhaseTimeline()
    cfg = RecoveryTime()
    live = LiveKinds(timeline, cfg)
    stats = RequestStats(use_response_times_cache=False)
    t0 = 1_000_000.0
    timeline.append(PhaseMark(t0, Phase.BASELINE))
    timeline.append(PhaseMark(t0 + 5, Phase.BURST, 1, ("lat",)))
    live.reset(cfg, stats.entries)
    live._last_wall = t0
    baseline_p95 = []
    for second in range(1, 5):  # four baseline seconds, p95 of each: 10 + second ms
        times = [2.0] * 19 + [10.0 + second]
        _entries(stats, "redis", times)
        live.tick(stats.entries, now=t0 + second)
        baseline_p95.append(10.0 + second)
    band = live.band("redis")
    assert band is not None
    high = float(np.quantile(baseline_p95, cfg.band_quantile)) * (1 + cfg.p95_tolerance)
    assert band[0] == pytest.approx(high + cfg.p95_margin_ms)
    live.tick(stats.entries, now=t0 + 5)  # nothing new: no point
    _entries(stats, "redis", [40.0] * 20)  # the burst: every request 40 ms
    live.tick(stats.entries, now=t0 + 7)
    (view,) = live.view()
    assert view.kind == "redis" and view.p95_ms == 40.0 and view.count == 20
    assert view.state == "out of band" and band[0] < 40.0
    assert len(view.series) == 5
    assert live.band("redis") == band  # burst points never widen the band
    stats.reset_all()  # Locust's "reset stats": counts go down, that tick is skipped
    live.tick(stats.entries, now=t0 + 8)
    assert len(live.view()[0].series) == 5
