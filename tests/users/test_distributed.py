"""A distributed run that tells the truth: ``locust --master`` and two ``locust --worker``
processes (started without ``--host``) against the reference system, with chaos.

The workers' integrity counters reach the master (acknowledged orders and stream messages on the
master equal the sum over the workers and the orders stored in PostgreSQL), the in-process
``pg_slow_queries`` switch set on the master slows the workers' PostgreSQL statements, and the
workers load the system at the master's host.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest
from hdrh.histogram import HdrHistogram

from chaosbench.analysis.model import new_histogram
from chaosbench.analysis.rundir import load
from tests.conftest import PYTHON, Proc, free_port, wait_until
from tests.users.conftest import Sut

pytestmark = pytest.mark.slow

LOCUSTFILES = "locustfiles/,tests/users/dist/counts_hook.py"
SLEEP_MS = 250
ORDER_USERS = 4  # of -u 10 with the mix below


def _profile(tmp_path: Path, redis_route: int) -> Path:
    path = tmp_path / "dist.yaml"
    path.write_text(
        "enabled: true\n"  # no seed: the harness draws one, and records the one it uses
        "phases: {warmup: 2s, baseline: 6s, burst_on: 4s, burst_off: 4s, bursts: 2, cooldown: 2s}\n"
        "proxy:\n  routes:\n"
        f"    load_redis: {{listen: 127.0.0.1:{redis_route}, upstream: 127.0.0.1:6379}}\n"
        "faults:\n"
        f"  - {{name: slow_pg, type: pg_slow_queries, share: 1.0, sleep_ms: {SLEEP_MS}}}\n"
        "  - {name: slow_redis, type: latency, route: load_redis, latency_ms: 20}\n"
    )
    return path


def _row(report: str, title: str) -> str:
    rows = [ln for ln in report.splitlines() if ln.startswith(f"| {title} |")]
    assert rows, f"no {title!r} row in report.md:\n{report}"
    return rows[0]


def test_master_and_two_workers_tell_the_truth(
    sut: Sut, spawn: Callable[..., Proc], tmp_path: Path, pg_dsn: str, redis_url: str
) -> None:
    route, api, port = free_port(), free_port(), free_port()
    counts = tmp_path / "counts"
    counts.mkdir()
    results = tmp_path / "runs"
    env = {"CB_TEST_COUNTS_DIR": str(counts)}
    master = spawn(
        [PYTHON, "-m", "locust", "-f", LOCUSTFILES, "--headless", "--only-summary",
         "--master", "--expect-workers", "2", "--master-bind-host", "127.0.0.1",
         "--master-bind-port", str(port), "-u", "10", "-r", "10", "--host", sut.url,
         "--user-mix", "OrderApiUser=2,FeedUser=1,PgOltpUser=1,RedisKvUser=1",
         "--pg-dsn", pg_dsn, "--pg-schema", f"{sut.tag}_load",
         "--redis-url", f"redis://127.0.0.1:{route}/0", "--redis-prefix", f"{sut.tag}:load:",
         "--chaos-profile", str(_profile(tmp_path, route)),
         "--chaos-proxy-api", f"127.0.0.1:{api}",
         "--results-dir", str(results), "--run-id", "dist",
         "--sut-pg-dsn", pg_dsn, "--sut-pg-schema", f"{sut.tag}_sut"],
        env=env,
        name="master",
    )  # fmt: skip
    worker_args = [PYTHON, "-m", "locust", "-f", LOCUSTFILES, "--worker",
                   "--master-host", "127.0.0.1", "--master-port", str(port)]  # fmt: skip
    workers = [spawn(worker_args, env=env, name=f"worker{i}") for i in range(2)]
    wait_until(lambda: master.popen.poll() is not None, timeout=150, interval=0.5)
    for w in workers:
        wait_until(lambda w=w: w.popen.poll() is not None, timeout=30, interval=0.2)
    logs = master.output() + "".join(w.output() for w in workers)
    assert "Traceback" not in logs, logs[-6000:]
    assert "needs the WebSocket URL" not in logs and "no baseline phase" not in logs, logs[-4000:]
    assert "did not send their last windows" not in logs

    per_worker = [json.loads(p.read_text()) for p in sorted(counts.glob("*.json"))]
    assert len(per_worker) == 2, logs[-4000:]
    # Started without --host, every worker took the master's and loaded the system with it.
    assert all(w["host"] == sut.url for w in per_worker)
    assert all(w["order_ids"] and w["ws_messages"] > 0 for w in per_worker), per_worker

    integrity = json.loads((results / "dist" / "integrity.json").read_text())
    worker_orders = [set(w["order_ids"]) for w in per_worker]
    assert not worker_orders[0] & worker_orders[1]
    acked = worker_orders[0] | worker_orders[1]
    assert integrity["orders_acknowledged"] == len(acked) > 0
    assert integrity["ws_messages"] == sum(w["ws_messages"] for w in per_worker) > 0
    assert integrity["ws_gaps"] == sum(w["ws_gaps"] for w in per_worker)
    with psycopg.connect(pg_dsn) as conn:
        stored = {
            str(r[0])
            for r in conn.execute(f'SELECT order_id FROM "{sut.tag}_sut".orders').fetchall()
        }
    # Every acknowledged order is stored; a placement still in flight when Locust stopped its
    # user (at most one per OrderApiUser) may be stored without its 201 having been read.
    assert acked <= stored and len(stored - acked) <= ORDER_USERS, (len(stored), len(acked))
    assert integrity["checked"] and integrity["orders_stored"] == len(acked)
    assert integrity["orders_lost"] == 0 and integrity["orders_duplicated"] == 0

    meta = json.loads((results / "dist" / "meta.json").read_text())
    assert isinstance(meta["seed"], int) and f"seed {meta['seed']}" in master.output()

    report = (results / "dist" / "report.md").read_text()
    for title in ("lost or duplicated acknowledged orders", "stream data loss"):
        row = _row(report, title)
        assert "n/a" not in row and "cannot measure" not in row, row

    # pg_slow_queries, set on the master, slowed the workers' PostgreSQL statements.
    assert all(w["pg_slow_share_seen"] == 1.0 for w in per_worker), per_worker
    data = load(results / "dist")
    pg: dict[str, HdrHistogram] = {}
    for win in data.windows:
        if win.key.request_type == "PG" and win.key.name != "connect":
            pg.setdefault(win.key.phase, new_histogram()).add(win.histogram)
    assert {"baseline", "burst1", "burst2"} <= set(pg), sorted(pg)
    for phase in ("burst1", "burst2"):
        assert pg[phase].get_value_at_percentile(50) >= SLEEP_MS * 1000, phase
    assert pg["baseline"].get_value_at_percentile(50) < SLEEP_MS * 1000
