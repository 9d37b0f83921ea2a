"""Leftovers on a proxy in its own process: a harness killed with SIGKILL mid-burst leaves its
toxics and its downed route on the proxy; the next start (``revert_leftovers_at_start``) or
``chaosbench reset`` removes exactly those, and leaves what another run added."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from chaosbench.chaos.faults import FaultContext, catalogue
from chaosbench.chaos.ledger import Ledger, revert_leftovers_at_start
from chaosbench.proxy import ToxiproxyClient
from tests.conftest import PYTHON, ROOT, Proc, free_port, wait_until

#: What the scheduler does for a persistent fault (ledger entry, then inject), for a latency
#: toxic on route ``r`` and a route_down on route ``d``; then it waits to be killed.
HARNESS = textwrap.dedent(
    """
    import sys, time
    from chaosbench.chaos.faults import FaultContext, catalogue
    from chaosbench.chaos.ledger import Ledger
    ledger = Ledger(sys.argv[2])
    ctx = FaultContext(proxy_url=sys.argv[1], ledger=ledger, proxy_external=True)
    faults = [
        catalogue()["latency"]("lat", catalogue()["latency"].Settings(route="r", latency_ms=100),
                               ctx, 1.0),
        catalogue()["route_down"]("cut", catalogue()["route_down"].Settings(route="d"), ctx, 1.0),
    ]
    for fault in faults:
        assert fault.persistent
        ledger.record(fault)
        fault.inject()
    print("injected", flush=True)
    time.sleep(60)
    """
)


def start_proxy(spawn: Callable[..., Proc], routes: bool = True) -> ToxiproxyClient:
    api = f"127.0.0.1:{free_port()}"
    proc = spawn([PYTHON, "-m", "chaosbench.proxy", "--api", api], name="proxy")
    client = ToxiproxyClient(api, timeout=2.0)

    def up() -> bool:
        assert proc.popen.poll() is None, proc.output()
        try:
            client.version()
        except Exception:
            return False
        return True

    wait_until(up, timeout=30)
    if not routes:
        return client
    for route in ("r", "d"):
        client.create_proxy(route, f"127.0.0.1:{free_port()}", "127.0.0.1:6379")
    client.add_toxic("r", "latency", {"latency": 50}, name="another_run")  # not ours
    return client


def kill_harness_mid_burst(
    spawn: Callable[..., Proc], client: ToxiproxyClient, ledger: Path
) -> None:
    harness = spawn([PYTHON, "-c", HARNESS, client.url, str(ledger)], name="harness")
    try:
        wait_until(lambda: "injected" in harness.output(), timeout=30)
    finally:
        harness.popen.send_signal(signal.SIGKILL)  # no revert, no finally
        harness.popen.wait(10)
    # The proxy outlived the harness: its toxic and downed route are still there.
    assert sorted(t.name for t in client.toxics("r")) == ["another_run", "cb_lat_downstream"]
    assert client.proxy("d").enabled is False
    assert {e.type for e in Ledger(ledger).entries()} == {"latency", "route_down"}


def assert_only_ours_reverted(client: ToxiproxyClient) -> None:
    assert [t.name for t in client.toxics("r")] == ["another_run"]
    assert client.proxy("d").enabled is True


def test_next_start_removes_exactly_the_killed_harness_toxics(
    tmp_path: Path, spawn: Callable[..., Proc]
) -> None:
    client = start_proxy(spawn)
    ledger = tmp_path / "ledger.json"
    kill_harness_mid_burst(spawn, client, ledger)
    lines = revert_leftovers_at_start(ledger)
    assert len(lines) == 2, lines
    assert any(
        f"removed toxics of latency 'lat' from {client.url} route 'r': cb_lat_downstream" in line
        for line in lines
    ), lines
    assert any(f"route 'd' on {client.url} brought back up" in line for line in lines), lines
    assert_only_ours_reverted(client)
    assert not ledger.exists()
    assert revert_leftovers_at_start(ledger) == []  # nothing left, nothing said


def test_reset_from_another_folder_reverts_the_proxy_leftovers(
    tmp_path: Path, spawn: Callable[..., Proc]
) -> None:
    client = start_proxy(spawn)
    ledger = tmp_path / "ledger.json"
    kill_harness_mid_burst(spawn, client, ledger)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {**os.environ, "CHAOSBENCH_LEDGER": str(ledger), "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [PYTHON, "-m", "chaosbench.cli", "reset"],
        cwd=elsewhere, capture_output=True, text=True, timeout=60, env=env,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "removed toxics of latency 'lat'" in out.stdout and "brought back up" in out.stdout
    assert_only_ours_reverted(client)


def test_a_gone_proxy_took_its_toxics_with_it(tmp_path: Path, spawn: Callable[..., Proc]) -> None:
    client = start_proxy(spawn)
    ledger = tmp_path / "ledger.json"
    kill_harness_mid_burst(spawn, client, ledger)
    # The entries name a proxy API where nothing listens any more (as after the proxy died).
    dead = f"http://127.0.0.1:{free_port()}"
    doc = json.loads(ledger.read_text())
    for entry in doc["entries"]:
        entry["undo"]["proxy"] = dead
    ledger.write_text(json.dumps(doc))
    lines = revert_leftovers_at_start(ledger)
    assert all("is gone" in line for line in lines) and len(lines) == 2, lines
    assert not ledger.exists()


@pytest.mark.parametrize("external", [True, False])
def test_proxy_faults_are_persistent_only_on_an_external_proxy(external: bool) -> None:
    ctx = FaultContext(rng=random.Random(1), proxy_external=external)
    for name, settings in (
        ("latency", {"route": "r", "latency_ms": 5}),
        ("route_down", {"route": "r"}),
    ):
        cls = catalogue()[name]
        assert cls(name, cls.Settings(**settings), ctx, 1.0).persistent is external


PROFILE = """seed: 3
phases: {{warmup: 0.5s, baseline: 0.5s, burst_on: 60s, burst_off: 1s, bursts: 1, cooldown: 0}}
proxy:
  routes:
    redis: {{listen: 127.0.0.1:{port}, upstream: 127.0.0.1:6379}}
faults:
  - {{name: lat, type: latency, route: redis, latency_ms: 100, stream: both}}
"""


@pytest.mark.slow
def test_locust_killed_mid_burst_on_an_external_proxy(
    tmp_path: Path, spawn: Callable[..., Proc]
) -> None:
    """A real locust run with --chaos-proxy URL, SIGKILLed with its latency toxics on: they stay
    on the proxy; the next start's revert removes them and not another run's toxic."""
    client = start_proxy(spawn, routes=False)
    route = free_port()
    profile = tmp_path / "p.yaml"
    profile.write_text(PROFILE.format(port=route))
    ledger = tmp_path / "ledger.json"
    env = {"CB_TEST_PORT": str(route), "CHAOSBENCH_LEDGER": str(ledger)}
    locust = spawn(
        [PYTHON, "-m", "locust", "-f", "tests/chaos/chaos_locustfile.py", "-u", "1", "-r", "1",
         "--headless", "--only-summary", "--chaos-profile", str(profile),
         "--chaos-proxy", client.url, "--results-dir", str(tmp_path / "runs")],
        env=env, name="locust",
    )  # fmt: skip
    ours = ["cb_lat_downstream", "cb_lat_upstream"]
    try:
        wait_until(lambda: sorted(t.name for t in client.toxics("redis")) == ours, timeout=60)
    finally:
        locust.popen.send_signal(signal.SIGKILL)
        locust.popen.wait(10)
    client.add_toxic("redis", "latency", {"latency": 5}, name="another_run")
    assert sorted(t.name for t in client.toxics("redis")) == ["another_run", *ours]
    lines = revert_leftovers_at_start(ledger)
    assert any("removed toxics of latency 'lat'" in line for line in lines), lines
    assert [t.name for t in client.toxics("redis")] == ["another_run"]
    assert not ledger.exists()
