"""One run per test: a web UI session of real ``locust`` processes driven through Locust's own
HTTP API (POST /swarm, /stop), and the headless console's end.

The locustfile is the results tests' Redis pinger with the whole harness, on a short profile
whose burst adds latency on a fault-proxy route to Redis (free ports, own results directory).
"""

from __future__ import annotations

import json
import re
import signal
import urllib.parse
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from chaosbench.analysis.rundir import load
from chaosbench.proxy import ToxiproxyClient
from tests.conftest import PYTHON, Proc, free_port, port_open, wait_until

pytestmark = pytest.mark.slow

LOCUSTFILE = "tests/analysis/locustfile_rec.py"
WHOLE_PROFILE = ["warmup", "baseline", "burst1", "recovery1", "burst2", "recovery2", "cooldown"]


def _profile(tmp_path: Path, route: int) -> Path:
    profile = tmp_path / "profile.yaml"
    profile.write_text(
        "enabled: true\nseed: 7\n"
        "phases: {warmup: 1s, baseline: 2s, burst_on: 2s, burst_off: 2s, bursts: 2, cooldown: 1s}\n"
        f"proxy:\n  routes:\n    redis: {{listen: 127.0.0.1:{route}, upstream: 127.0.0.1:6379}}\n"
        "faults:\n  - {name: slow_redis, type: latency, route: redis, latency_ms: 20}\n"
    )
    return profile


def _env(tmp_path: Path, key_prefix: str, route: int) -> dict[str, str]:
    return {
        "CB_TEST_RESULTS_ONLY": "0",  # the whole harness
        "CB_TEST_PREFIX": key_prefix,
        "CB_TEST_REDIS_URL": f"redis://127.0.0.1:{route}/0",
    }


def _post(web: int, path: str, form: dict[str, str] | None = None) -> dict[str, Any]:
    data = urllib.parse.urlencode(form or {}).encode()
    req = urllib.request.Request(f"http://127.0.0.1:{web}{path}", data=data, method="POST")
    with urllib.request.urlopen(req, timeout=60) as resp:
        return dict(json.loads(resp.read()))


def _stats(web: int) -> dict[str, Any]:
    with urllib.request.urlopen(f"http://127.0.0.1:{web}/stats/requests", timeout=5) as r:
        return dict(json.loads(r.read()))


def _requests(web: int) -> int:
    return sum(e["num_requests"] for e in _stats(web)["stats"] if e["name"] == "Aggregated")


def _idle(web: int) -> bool:
    """No test running, and every worker (of a master) ready for the next: a master that
    starts while a worker is still stopping loses the worker (Locust's own protocol)."""
    stats = _stats(web)
    workers = stats.get("workers") or []
    return stats["state"] in ("ready", "stopped") and all(w["state"] == "ready" for w in workers)


def _labels(run_dir: Path) -> list[str]:
    """The phase labels of marks.jsonl, in order, without repeats (a fault change is a mark)."""
    path = run_dir / "marks.jsonl"
    if not path.exists():
        return []
    labels: list[str] = []
    for line in path.read_text().splitlines():
        if not line.endswith("}"):
            continue
        mark = json.loads(line)
        label = f"{mark['phase']}{mark['burst'] or ''}"
        if not labels or labels[-1] != label:
            labels.append(label)
    return labels


def _judged(run_dir: Path) -> bool:
    return (run_dir / "findings.json").exists()


@pytest.mark.parametrize("mode", ["local", "distributed"])
def test_web_ui_session_gives_each_test_its_own_run_and_verdict(
    spawn: Callable[..., Proc], tmp_path: Path, key_prefix: str, mode: str
) -> None:
    """Two tests (and a refused start between them) from Locust's web UI, on one Locust
    process, or on a master with one worker (the worker records each test for the master)."""
    route, api, web, master_port = free_port(), free_port(), free_port(), free_port()
    results = tmp_path / "runs"
    gate = tmp_path / "mine.yaml"
    gate.write_text(
        "version: 1\ninconclusive_fails: false\ncriteria:\n  p99_ceiling: {limit: 4321}\n"
    )
    env = _env(tmp_path, key_prefix, route)
    distributed = ["--master", "--master-bind-host", "127.0.0.1",
                   "--master-bind-port", str(master_port)]  # fmt: skip
    proc = spawn(
        [PYTHON, "-m", "locust", "-f", LOCUSTFILE, "--web-host", "127.0.0.1",
         "--web-port", str(web), "--chaos-profile", str(_profile(tmp_path, route)),
         "--chaos-proxy-api", f"127.0.0.1:{api}", "--results-dir", str(results),
         "--sut-pg-dsn", "none", *(distributed if mode == "distributed" else [])],
        env=env,
        name="locust",
    )  # fmt: skip
    wait_until(lambda: port_open(web) or proc.popen.poll() is not None, timeout=60)
    worker: Proc | None = None
    if mode == "distributed":
        worker = spawn(
            [PYTHON, "-m", "locust", "-f", LOCUSTFILE, "--worker", "--master-host",
             "127.0.0.1", "--master-port", str(master_port)],
            env=env,
            name="worker",
        )  # fmt: skip
        wait_until(lambda: _stats(web).get("workers") and _idle(web), timeout=60, interval=0.2)
    stops = [0]

    def settled() -> bool:
        """Idle again after a start; a master's worker has also said it is ready once more per
        stop (Locust logs it), which it does after it stopped its users."""
        if worker is None:
            return _idle(web)
        return _idle(web) and proc.output().count("reported as ready") >= stops[0] + 1

    def stopped() -> None:
        stops[0] += 1
        wait_until(settled, timeout=60, interval=0.2)

    def refused(line: str) -> None:
        wait_until(lambda: line in proc.output(), timeout=30)
        stopped()
        # no user of the refused start ran (Locust's counts reset at a start; /stats/requests
        # is cached a few seconds: wait for the fresh counts)
        wait_until(lambda: _requests(web) == 0, timeout=30, interval=0.5)

    start = {"user_count": "2", "spawn_rate": "2", "host": "http://127.0.0.1:1"}

    # test 1: run id and gate from the form; the profile's end stops it
    assert _post(web, "/swarm", {**start, "run_id": "first", "gate": "loose"})["success"]
    first = results / "first"
    wait_until(lambda: _judged(first), timeout=90, interval=0.2)
    stopped()

    # a bad value in the form refuses that start: one line, no chaos, no run directory, no
    # load. (On a master, Locust itself may drop a worker whose spawning is stopped at once:
    # one process only.)
    refusals = ["--window-grace 0.0: must be in", "--chaos-seed: expected an integer"]
    if worker is None:
        assert _post(web, "/swarm", {**start, "window_grace": "0"})["success"]
        refused(refusals[0])
        form = {**start, "window_grace": "2", "chaos_seed": "abc"}
        assert _post(web, "/swarm", form)["success"]
        refused(refusals[1])

    # test 2: the same run id (suffixed, never overwritten), another gate and window grace;
    # stopped from the UI during its second burst
    form = {**start, "run_id": "first", "gate": str(gate), "window_grace": "3", "chaos_seed": "11"}
    assert _post(web, "/swarm", form)["success"]
    second = results / "first-2"
    wait_until(lambda: "burst2" in _labels(second), timeout=60, interval=0.1)
    assert _post(web, "/stop")["success"]  # returns once the test is judged
    assert _judged(second)
    toxics = {
        n: list(p.toxics) for n, p in ToxiproxyClient(f"http://127.0.0.1:{api}").proxies().items()
    }
    assert toxics == {"redis": []}, toxics  # reverted before it was judged

    proc.popen.send_signal(signal.SIGTERM)
    wait_until(lambda: proc.popen.poll() is not None, timeout=60)
    out = proc.output()
    assert "Traceback" not in out, out[-4000:]
    if worker is not None:
        wait_until(lambda: worker.popen.poll() is not None, timeout=30)
        assert "Traceback" not in worker.output(), worker.output()[-4000:]
    assert sorted(p.name for p in results.iterdir()) == ["first", "first-2"]
    for refusal in refusals:
        assert sum(refusal in ln for ln in out.splitlines()) == (worker is None), out[-4000:]
    assert out.count("chaos: profile ") == 2  # the scheduler started for the two tests only

    one, two = load(first), load(second)
    assert (one.meta.run_id, two.meta.run_id) == ("first", "first-2")
    # each run directory holds its own test: its own marks, windows and verdict files
    assert [x for x in _labels(first) if x != "idle"] == WHOLE_PROFILE
    assert [x for x in _labels(second) if x != "idle"] == WHOLE_PROFILE[:5]
    for data, run_dir in ((one, first), (two, second)):
        assert data.meta.mode == ("master" if mode == "distributed" else "local")
        assert data.meta.end is not None and data.meta.locust is not None
        counted = sum(w.count for w in data.windows)
        assert counted == data.meta.locust.num_requests > 0  # Locust's count of this test only
        assert all(data.meta.start - 1 <= w.second <= data.meta.end for w in data.windows)
        for name in ("findings.json", "report.md", "junit.xml"):
            assert (run_dir / name).exists(), name
    assert one.meta.end is not None and one.meta.end <= two.meta.start
    # the revert of the second burst is journaled, before the test's end
    reverts = [r for r in two.journal if r.kind == "revert" and r.burst == 2]
    assert reverts and two.meta.end is not None and reverts[-1].end <= two.meta.end
    # form fields took effect for the test they started
    assert one.meta.gate is not None and one.meta.gate.path.endswith("loose.yaml")
    assert two.meta.gate is not None and two.meta.gate.path == str(gate)
    assert two.meta.gate.config is not None
    assert two.meta.gate.config["criteria"]["p99_ceiling"]["limit"] == 4321
    assert (one.meta.seed, two.meta.seed) == (7, 11)  # the profile's, then the form's
    assert one.meta.recording is not None and one.meta.recording.grace_s == 2.0
    assert two.meta.recording is not None and two.meta.recording.grace_s == 3.0

    # the console: each test's verdict block when it stopped; at the end the last test's
    # verdict and the process's exit code, which is the last test's
    codes = [
        int(m.group(2))
        for m in re.finditer(r"chaosbench: test (\d) \(first(?:-2)?\): exit code (\d)", out)
    ]
    assert len(codes) == 2, out[-4000:]
    lines = out.strip().splitlines()
    assert proc.popen.returncode == codes[1], lines[-20:]
    assert lines[-1].startswith(f"chaosbench: exit code {codes[1]} ("), lines[-20:]
    # each test's progress starts from its own warmup (Locust's counts reset at each start)
    starts = re.findall(
        r"chaos: phase warmup \(.*\) — warmup: \S+ left in the phase, 0s of 12s", out
    )
    assert len(starts) == 2, out[-4000:]
    assert "chaos: phase idle " in out and "schedule over after 12s of 12s" in out
    verdicts = [i for i, ln in enumerate(lines) if ln.startswith("chaosbench verdict:")]
    assert len(verdicts) == 3, lines[-40:]  # test 1, test 2, and the last one's again at the end
    assert any(ln.startswith("chaosbench: 2 tests (first exit ") for ln in lines[verdicts[1] :])


def test_headless_console_ends_with_the_verdict_and_exit_code(
    spawn: Callable[..., Proc], tmp_path: Path, key_prefix: str
) -> None:
    route, api = free_port(), free_port()
    results = tmp_path / "runs"
    proc = spawn(
        [PYTHON, "-m", "locust", "-f", LOCUSTFILE, "--headless", "-u", "2", "-r", "2",
         "--chaos-profile", str(_profile(tmp_path, route)),
         "--chaos-proxy-api", f"127.0.0.1:{api}", "--results-dir", str(results),
         "--run-id", "cli", "--gate", "loose", "--sut-pg-dsn", "none"],
        env=_env(tmp_path, key_prefix, route),
        name="locust",
    )  # fmt: skip
    wait_until(lambda: proc.popen.poll() is not None, timeout=90, interval=0.2)
    lines = proc.output().strip().splitlines()
    assert "Traceback" not in "\n".join(lines)
    assert [p.name for p in results.iterdir()] == ["cli"]
    code = proc.popen.returncode
    assert lines[-1].startswith(f"chaosbench: exit code {code} ("), lines[-20:]
    verdict = max(i for i, ln in enumerate(lines) if ln.startswith("chaosbench verdict:"))
    summary = max(i for i, ln in enumerate(lines) if "Aggregated" in ln)
    assert summary < verdict, lines[-40:]  # after Locust's summary
    assert lines[verdict].startswith("chaosbench verdict: ") and f"(exit {code})" in lines[verdict]
    assert any(ln.startswith("chaosbench report: ") for ln in lines[verdict:])
    assert [x for x in _labels(results / "cli") if x != "idle"] == WHOLE_PROFILE
