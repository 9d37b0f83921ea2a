"""End to end: a real headless ``locust -f locustfiles/`` with all four users against the
reference system on the real PostgreSQL and Redis; and the one-line errors for bad setups."""

from __future__ import annotations

import csv
from pathlib import Path

import psycopg
import pytest
import redis

from tests.conftest import PYTHON, free_port, port_open, wait_until

pytestmark = pytest.mark.slow


def _locust(*args: str) -> list[str]:
    return [PYTHON, "-m", "locust", "-f", "locustfiles/", "--headless", *args]


@pytest.fixture
def sut(spawn, pg_dsn: str, redis_url: str, key_prefix: str):  # type: ignore[no-untyped-def]
    port = free_port()
    proc = spawn(
        [
            PYTHON,
            "-m",
            "sut",
            "--port",
            str(port),
            "--pg-dsn",
            pg_dsn,
            "--pg-schema",
            f"{key_prefix}_sut",
            "--redis-url",
            redis_url,
            "--redis-prefix",
            f"{key_prefix}:sut:",
        ],
        name="sut",
    )
    wait_until(lambda: port_open(port) or proc.popen.poll() is not None, timeout=30)
    assert proc.popen.poll() is None, proc.output()
    yield f"http://127.0.0.1:{port}"
    proc.stop()
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        for schema in (f"{key_prefix}_sut", f"{key_prefix}_load"):
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    r = redis.Redis.from_url(redis_url)
    keys = list(r.scan_iter(match=f"{key_prefix}:*", count=1000))
    for i in range(0, len(keys), 500):
        r.delete(*keys[i : i + 500])


def test_all_four_users_against_the_reference_system(
    sut: str, spawn, tmp_path: Path, pg_dsn: str, redis_url: str, key_prefix: str
) -> None:
    prefix = tmp_path / "run"
    proc = spawn(
        _locust(
            "-u",
            "20",
            "-r",
            "10",
            "-t",
            "15s",
            "--host",
            sut,
            "--csv",
            str(prefix),
            "--pg-dsn",
            pg_dsn,
            "--pg-schema",
            f"{key_prefix}_load",
            "--redis-url",
            redis_url,
            "--redis-prefix",
            f"{key_prefix}:load:",
            "--only-summary",
        ),
        env={"LOCUST_RESULTS_DIR": str(tmp_path / "runs")},
        name="locust",
    )
    rc = proc.popen.wait(90)
    out = proc.output()
    assert "Traceback" not in out, out[-4000:]
    assert rc == 0, out[-4000:]
    rows = list(csv.DictReader(open(f"{prefix}_stats.csv")))
    stats = {(r["Type"], r["Name"]): r for r in rows if r["Name"] != "Aggregated"}
    kinds = {t for t, _ in stats}
    assert kinds == {"HTTP", "WS", "PG", "REDIS"}, kinds
    for key in [
        ("HTTP", "POST /api/orders"),
        ("HTTP", "GET /api/quotes/[symbol]"),
        ("WS", "message quote"),
        ("WS", "connect"),
        ("PG", "insert order"),
        ("PG", "read order"),
        ("REDIS", "GET"),
        ("REDIS", "SET"),
    ]:
        assert key in stats and int(stats[key]["Request Count"]) > 0, key
    failures = {k: int(r["Failure Count"]) for k, r in stats.items() if int(r["Failure Count"])}
    assert failures == {}, failures
    rejected = [k for k in stats if "malformed" in k[1] or "invalid" in k[1]]
    assert rejected, "malformed orders were sent and correctly rejected"
    assert all("/api/orders/" not in n or n.endswith("[id]") for _, n in stats)  # no ids in names


def test_unreachable_target_is_one_clear_line_and_exit_2(spawn, tmp_path: Path) -> None:
    dead = free_port()
    proc = spawn(
        _locust(
            "-u",
            "4",
            "-r",
            "4",
            "-t",
            "20s",
            "--host",
            f"http://127.0.0.1:{free_port()}",
            "--pg-dsn",
            f"postgresql://postgres:s3cret@127.0.0.1:{dead}/test",
            "PgOltpUser",
        ),
        env={"LOCUST_RESULTS_DIR": str(tmp_path / "runs")},
        name="locust",
    )
    rc = proc.popen.wait(60)
    out = proc.output()
    assert rc == 2, out[-3000:]
    lines = [ln for ln in out.splitlines() if ln.startswith("chaosbench: ")]
    assert len(lines) == 1, out[-3000:]
    assert f"PostgreSQL at 127.0.0.1:{dead} is not reachable (connection refused)" in lines[0]
    assert "s3cret" not in out
    assert "Traceback" not in out


def test_bad_option_is_one_line_and_exit_2(spawn, tmp_path: Path) -> None:
    proc = spawn(
        _locust("-u", "1", "-t", "5s", "--host", "http://127.0.0.1:9", "--deadlines", "PG=fast"),
        env={"LOCUST_RESULTS_DIR": str(tmp_path / "runs")},
        name="locust",
    )
    rc = proc.popen.wait(60)
    out = proc.output()
    assert rc == 2, out[-3000:]
    assert "chaosbench: --deadlines: 'fast' in 'PG=fast' is not a number of milliseconds" in out
    assert "Traceback" not in out
