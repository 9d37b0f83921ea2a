"""The outside servers of the A/A and known-truth runs (bench.outside): a plain nginx on a free
port with its own prefix, a pgbench-initialised database, plain Redis; all gone after."""

from __future__ import annotations

import subprocess
import urllib.request

import psycopg
import redis

from bench.outside import OutsideServers, Phases, port_open, profile_text
from tests.conftest import PG_DSN, PYTHON, REDIS_URL, ROOT


def test_outside_servers_serve_and_leave_nothing_behind() -> None:
    servers = OutsideServers(tag=None)
    with servers as ends:
        with urllib.request.urlopen(f"{ends.http}/", timeout=5) as resp:
            assert resp.status == 200
            assert b"a plain nginx" in resp.read()
        with urllib.request.urlopen(f"{ends.http}/small.json", timeout=5) as resp:
            assert resp.headers["content-type"] == "application/json"
        with psycopg.connect(ends.pg_dsn) as conn:
            row = conn.execute("SELECT count(*) FROM pgbench_accounts").fetchone()
        assert row is not None and row[0] == 100_000
        r = redis.Redis.from_url(REDIS_URL)
        r.set(f"{ends.redis_prefix}probe", b"1")
        port = int(ends.http.rsplit(":", 1)[1])
        assert servers.nginx is not None
        nginx_pid = servers.nginx.pid
    assert not port_open(port)
    try:
        with open(f"/proc/{nginx_pid}/stat") as fh:
            state = fh.read().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        state = "gone"
    assert state in ("gone", "Z")
    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_database WHERE datname = %s", (servers.db,)
        ).fetchone()
    assert row is not None and row[0] == 0
    assert not list(r.scan_iter(f"{ends.redis_prefix}*"))


def test_profiles_are_a_a_or_one_known_latency_on_the_redis_route() -> None:
    aa = profile_text(40001, None, 3, Phases())
    assert "faults: []" in aa and "listen: 127.0.0.1:40001" in aa
    truth = profile_text(40001, 10, 3, Phases())
    assert "type: latency, route: redis, latency_ms: 10" in truth
    assert Phases().total_s == 80


def test_the_verdicts_bench_refuses_bad_counts_in_one_line() -> None:
    out = subprocess.run(
        [PYTHON, "-m", "bench.verdicts", "--runs", "0"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert out.returncode == 2
    assert out.stderr.strip() == "bench.verdicts: --runs 0: must be 1 .. 50"
