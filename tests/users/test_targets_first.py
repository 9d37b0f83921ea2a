"""Every target and option is checked before any user spawns and before chaos or recording start:
real ``locust`` processes on the bundled locustfiles, with a profile whose first burst would
inject at once on an external proxy (so that a fault, even a route, would show there)."""

from __future__ import annotations

import json
import signal
import subprocess
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

from chaosbench.proxy import ToxiproxyClient
from tests.conftest import PYTHON, ROOT, Proc, free_port, port_open, wait_until

pytestmark = pytest.mark.slow


def write_profile(tmp_path: Path) -> Path:
    route = free_port()
    path = tmp_path / "at_once.yaml"
    path.write_text(
        f"""seed: 1
phases: {{warmup: 0s, baseline: 0s, burst_on: 30s, burst_off: 1s, bursts: 1, cooldown: 0}}
proxy:
  routes:
    redis: {{listen: 127.0.0.1:{route}, upstream: 127.0.0.1:6379}}
faults:
  - {{name: lat, type: latency, route: redis, latency_ms: 100}}
"""
    )
    return path


@pytest.fixture
def proxy(spawn: Callable[..., Proc]) -> str:
    api = free_port()
    p = spawn([PYTHON, "-m", "chaosbench.proxy", "--api", f"127.0.0.1:{api}"], name="proxy")
    wait_until(lambda: port_open(api) or p.popen.poll() is not None, timeout=20)
    assert p.popen.poll() is None, p.output()
    return f"http://127.0.0.1:{api}"


def closed() -> str:
    return f"127.0.0.1:{free_port()}"


# name: (user class, options, what the one line says)
CASES = {
    "pg_unreachable": (
        "PgOltpUser",
        ["--pg-dsn", f"postgresql://postgres@{closed()}/test"],
        "or set --pg-dsn",
    ),
    "redis_garbage": ("RedisKvUser", ["--redis-url", "garbage"], "--redis-url: "),
    "redis_no_host": ("RedisKvUser", ["--redis-url", ":abc"], "--redis-url: "),
    "host_unreachable": ("OrderApiUser", ["--host", f"http://{closed()}"], "or set --host"),
    "unknown_class": ("OrderApiUser", ["--user-mix", "NoSuchUser=1"], "--user-mix: no user"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_target_stops_before_anything_starts(tmp_path: Path, proxy: str, case: str) -> None:
    user_class, options, expected = CASES[case]
    runs = tmp_path / "runs"
    args = [PYTHON, "-m", "locust", "-f", "locustfiles/", "--headless", "-u", "2", "-r", "2",
            "-t", "20s", "--host", "http://127.0.0.1:8080", "--sut-pg-dsn", "none",
            "--chaos-profile", str(write_profile(tmp_path)), "--chaos-proxy", proxy,
            "--results-dir", str(runs), *options, user_class]  # fmt: skip
    p = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=90)
    out = p.stdout + p.stderr
    assert p.returncode == 2, out[-3000:]
    lines = [ln for ln in p.stderr.splitlines() if ln.startswith("chaosbench:")]
    assert len(lines) == 1 and expected in lines[0], out[-3000:]
    assert "Traceback" not in out
    assert "All users spawned" not in out and "Ramping" not in out
    assert not runs.exists() or not any(runs.iterdir())  # no run directory
    # nothing of the chaos half ran: not even the routes exist on the proxy, let alone a toxic
    assert ToxiproxyClient(proxy).proxies() == {}


def test_web_ui_start_with_a_bad_host_starts_no_chaos_and_no_recording(
    tmp_path: Path, proxy: str, spawn: Callable[..., Proc]
) -> None:
    """A web UI run checks at test start (its form may change the host): the check runs before
    the scheduler and the recording, and a refused start starts neither."""
    web = free_port()
    runs = tmp_path / "runs"
    p = spawn(
        [
            PYTHON,
            "-m",
            "locust",
            "-f",
            "locustfiles/",
            "--web-host",
            "127.0.0.1",
            "--web-port",
            str(web),
            "--sut-pg-dsn",
            "none",
            "--chaos-profile",
            str(write_profile(tmp_path)),
            "--chaos-proxy",
            proxy,
            "--results-dir",
            str(runs),
            "OrderApiUser",
        ],
        name="locust",
    )
    wait_until(lambda: port_open(web) or p.popen.poll() is not None, timeout=30)
    bad = f"http://{closed()}"
    form = f"user_count=1&spawn_rate=1&host={bad}".encode()
    req = urllib.request.Request(f"http://127.0.0.1:{web}/swarm", data=form, method="POST")
    with urllib.request.urlopen(req, timeout=10) as resp:
        assert json.loads(resp.read())["success"] is True
    wait_until(lambda: "chaosbench:" in p.output(), timeout=30)

    def state() -> str:
        with urllib.request.urlopen(f"http://127.0.0.1:{web}/stats/requests", timeout=5) as r:
            return str(json.loads(r.read())["state"])

    wait_until(lambda: state() == "stopped", timeout=30)  # stopped, the UI still up
    p.popen.send_signal(signal.SIGTERM)
    assert p.popen.wait(60) == 2
    out = p.output()
    lines = [ln for ln in out.splitlines() if ln.startswith("chaosbench:")]
    assert len(lines) == 1 and "or set --host" in lines[0], out[-3000:]
    assert "Traceback" not in out
    assert "chaos: profile" not in out  # the scheduler never started
    assert {n: list(i.toxics) for n, i in ToxiproxyClient(proxy).proxies().items()} == {"redis": []}
    assert not runs.exists() or not any(runs.iterdir())  # the recording never started
