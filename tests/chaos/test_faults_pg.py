"""PostgreSQL faults against the real server: each has its effect, and revert leaves nothing.

Victim connections carry an application_name unique to the test, and every fault is filtered by
it, so the other engineers' connections on the shared server are never touched.
"""

from __future__ import annotations

import random
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import gevent
import psycopg
import pytest

from chaosbench.chaos.faults import FaultContext, catalogue
from chaosbench.chaos.faults.base import Fault
from chaosbench.chaos.faults.pg_connection_exhaustion import HOLD_NAME
from chaosbench.ground.errors import TargetUnreachable
from chaosbench.ground.translate import error_line
from tests.conftest import ROOT, free_port, wait_until


def gwait(cond: Callable[[], object], timeout: float = 10.0) -> object:
    """Poll with gevent.sleep, so that the faults' greenlets run while waiting."""
    return wait_until(cond, timeout, sleep=gevent.sleep)


def make(type_name: str, intensity: float = 1.0, **settings: Any) -> Fault[Any]:
    cls = catalogue()[type_name]
    ctx = FaultContext(rng=random.Random(7))
    return cls(f"t-{type_name}", cls.Settings(**settings), ctx, intensity)


@pytest.fixture
def admin(pg_dsn: str) -> Iterator[psycopg.Connection]:
    conn = psycopg.connect(pg_dsn, autocommit=True, application_name="cbt-admin")
    yield conn
    conn.close()


@pytest.fixture
def victims(pg_dsn: str, key_prefix: str) -> Iterator[Callable[..., psycopg.Connection]]:
    opened: list[psycopg.Connection] = []

    def _open(suffix: str = "victim") -> psycopg.Connection:
        c = psycopg.connect(pg_dsn, autocommit=True, application_name=f"{key_prefix}-{suffix}")
        opened.append(c)
        return c

    yield _open
    for c in opened:
        c.close()


def count_app(admin: psycopg.Connection, app: str) -> int:
    row = admin.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", (app,)
    ).fetchone()
    return int(row[0]) if row else 0


def alive(conn: psycopg.Connection) -> bool:
    try:
        conn.execute("SELECT 1")
    except psycopg.OperationalError:
        return False
    return True


# -- pg_terminate_backends ----------------------------------------------------------------------
def test_terminate_by_application_name_spares_others(
    pg_dsn: str, key_prefix: str, admin: psycopg.Connection, victims: Callable[..., Any]
) -> None:
    targets = [victims() for _ in range(3)]
    bystander = victims("bystander")
    fault = make("pg_terminate_backends", dsn=pg_dsn, application_name=f"{key_prefix}-victim")
    assert fault.targets() == ["127.0.0.1:5432"]
    fault.inject()
    fault.revert()
    assert fault.describe()["terminated"] == 3
    gwait(lambda: count_app(admin, f"{key_prefix}-victim") == 0)
    assert not any(alive(c) for c in targets)
    assert alive(bystander)
    assert alive(admin)


def test_terminate_share_follows_intensity(
    pg_dsn: str, key_prefix: str, admin: psycopg.Connection, victims: Callable[..., Any]
) -> None:
    for _ in range(4):
        victims()
    fault = make("pg_terminate_backends", 0.5, dsn=pg_dsn, application_name=f"{key_prefix}-vic*")
    fault.inject()
    fault.revert()
    assert fault.describe()["terminated"] == 2
    gwait(lambda: count_app(admin, f"{key_prefix}-victim") == 2)


def test_terminate_repeats_during_the_burst_and_stops_at_revert(
    pg_dsn: str, key_prefix: str, admin: psycopg.Connection, victims: Callable[..., Any]
) -> None:
    app = f"{key_prefix}-victim"
    fault = make("pg_terminate_backends", dsn=pg_dsn, application_name=app, every_ms=100)
    fault.inject()
    try:
        again = victims()  # a reconnect during the burst is cut again
        gwait(lambda: not alive(again))
    finally:
        fault.revert()
    rounds = fault.describe()["rounds"]
    assert rounds >= 2
    survivor = victims()
    gevent.sleep(0.3)  # three repeat periods: the repeater must be gone
    assert alive(survivor)
    assert fault.describe()["rounds"] == rounds


def test_terminate_never_other_databases(
    pg_dsn: str, key_prefix: str, admin: psycopg.Connection
) -> None:
    other = psycopg.connect(
        pg_dsn.rsplit("/", 1)[0] + "/postgres", autocommit=True, application_name=key_prefix
    )
    try:
        fault = make("pg_terminate_backends", dsn=pg_dsn, application_name=key_prefix)
        fault.inject()
        fault.revert()
        assert fault.describe()["terminated"] == 0
        assert alive(other)
    finally:
        other.close()


# -- pg_lock_contention -------------------------------------------------------------------------
@pytest.fixture
def table(admin: psycopg.Connection, key_prefix: str) -> Iterator[str]:
    admin.execute(f"CREATE SCHEMA {key_prefix}")
    admin.execute(f"CREATE TABLE {key_prefix}.t (id int)")
    admin.execute(f"INSERT INTO {key_prefix}.t VALUES (1)")
    yield f"{key_prefix}.t"
    admin.execute(f"DROP SCHEMA {key_prefix} CASCADE")


def lock_holders(admin: psycopg.Connection, table: str) -> int:
    row = admin.execute(
        "SELECT count(*) FROM pg_locks WHERE relation = %s::regclass AND granted"
        " AND mode = 'AccessExclusiveLock'",
        (table,),
    ).fetchone()
    return int(row[0]) if row else 0


def test_lock_blocks_queries_until_revert(
    pg_dsn: str, table: str, admin: psycopg.Connection, victims: Callable[..., Any]
) -> None:
    reader = victims()
    reader.execute("SET statement_timeout = '300ms'")
    fault = make("pg_lock_contention", dsn=pg_dsn, table=table)
    fault.inject()
    try:
        assert lock_holders(admin, table) == 1
        t0 = time.monotonic()
        with pytest.raises(psycopg.errors.QueryCanceled):
            reader.execute(f"SELECT * FROM {table}")
        assert time.monotonic() - t0 >= 0.25  # it queued behind the lock
    finally:
        fault.revert()
    wait_until(lambda: lock_holders(admin, table) == 0)  # the server ends it asynchronously
    assert reader.execute(f"SELECT count(*) FROM {table}").fetchone() == (1,)
    fault.revert()  # idempotent


def test_lock_duty_cycle_below_full_intensity(
    pg_dsn: str, table: str, admin: psycopg.Connection
) -> None:
    fault = make("pg_lock_contention", 0.5, dsn=pg_dsn, table=table, cycle_ms=100)
    fault.inject()
    try:
        gwait(lambda: fault.describe()["acquisitions"] >= 3)
    finally:
        fault.revert()
    wait_until(lambda: lock_holders(admin, table) == 0)


def test_lock_on_missing_table_raises_the_servers_error(pg_dsn: str, key_prefix: str) -> None:
    """Below the scheduler the server's own error goes through; the scheduler makes it a line."""
    fault = make("pg_lock_contention", dsn=pg_dsn, table=f"{key_prefix}.nope")
    with pytest.raises(psycopg.errors.InvalidSchemaName) as err:
        fault.inject()
    fault.revert()
    assert error_line(err.value) == f'schema "{key_prefix}" does not exist'


def test_admin_connection_to_a_closed_port_is_target_unreachable() -> None:
    port = free_port()
    fault = make("pg_terminate_backends", dsn=f"postgresql://chaos:s3cr3t-pw@127.0.0.1:{port}/x")
    with pytest.raises(TargetUnreachable) as err:
        fault.inject()
    assert str(err.value) == f"PostgreSQL 127.0.0.1:{port}: connection refused"


# -- pg_connection_exhaustion -------------------------------------------------------------------
def backends(admin: psycopg.Connection, pids: list[int]) -> int:
    row = admin.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE pid = ANY(%s) AND application_name = %s",
        (pids, HOLD_NAME),
    ).fetchone()
    return int(row[0]) if row else 0


def test_exhaustion_holds_connections_until_revert(pg_dsn: str, admin: psycopg.Connection) -> None:
    fault = make("pg_connection_exhaustion", 0.6, dsn=pg_dsn, connections=5)
    fault.inject()
    try:
        pids = [c.info.backend_pid for c in fault._held]  # type: ignore[attr-defined]
        assert len(pids) == 3  # ceil(5 * 0.6)
        assert backends(admin, pids) == 3
    finally:
        fault.revert()
    gwait(lambda: backends(admin, pids) == 0)
    assert fault.describe()["opened"] == 3


def test_exhaustion_bounded_and_free_slots_read(pg_dsn: str, admin: psycopg.Connection) -> None:
    fault = make("pg_connection_exhaustion", dsn=pg_dsn, connections=10, max_held=2)
    free = fault._free_slots()  # type: ignore[attr-defined]
    row = admin.execute("SELECT current_setting('max_connections')::int").fetchone()
    assert row is not None and 0 < free < row[0]
    fault.inject()
    assert fault.describe()["opened"] == 2
    fault.revert()
    fault.revert()


# -- pg_slow_queries ----------------------------------------------------------------------------
def test_slow_queries_share_and_real_sleep(pg_dsn: str, victims: Callable[..., Any]) -> None:
    fault = make("pg_slow_queries", 0.5, share=1.0, sleep_ms=200)
    assert fault.targets() == []
    switches = fault.ctx.state.switches  # the run's switches, which the PostgreSQL users read
    assert switches.pg_slow_delay() == 0.0
    fault.inject()
    try:
        assert switches.pg_slow_share == 0.5
        delays = [switches.pg_slow_delay() for _ in range(4000)]
        slowed = sum(1 for d in delays if d) / len(delays)
        assert 0.45 < slowed < 0.55
        conn = victims()
        t0 = time.monotonic()
        slow = 0
        for _ in range(6):
            delay = switches.pg_slow_delay()
            if delay:
                slow += 1
                conn.execute("SELECT pg_sleep(%s)", (delay,))
            conn.execute("SELECT 1")
        assert time.monotonic() - t0 >= 0.2 * slow * 0.95
    finally:
        fault.revert()
    assert switches.pg_slow_share == 0.0
    assert switches.pg_slow_delay() == 0.0


GEVENT_LOCK = """
from gevent import monkey

monkey.patch_all()
import sys, time
import gevent, psycopg
from chaosbench.chaos.faults import FaultContext, catalogue
from chaosbench.users.looplag import LoopLagProbe

dsn, table = sys.argv[1], sys.argv[2]
blocker = psycopg.connect(dsn, application_name=sys.argv[3])
blocker.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
cls = catalogue()["pg_lock_contention"]
fault = cls("lock", cls.Settings(dsn=dsn, table=table, acquire_timeout_ms=800), FaultContext())
probe = LoopLagProbe(0.005).start()
gevent.sleep(0.05)
t0 = time.monotonic()
try:
    fault.inject()
except Exception as exc:
    print("error", type(exc).__name__, exc)
waited = time.monotonic() - t0
fault.revert()
lag = probe.stop()
print("waited", round(waited, 3), "lag", round(lag, 3), "samples", probe.samples, flush=True)
"""


def test_lock_wait_does_not_block_the_gevent_loop(pg_dsn: str, table: str, key_prefix: str) -> None:
    """In a monkey-patched process (as under Locust), a fault waiting on the server yields."""
    out = subprocess.run(
        [sys.executable, "-c", GEVENT_LOCK, pg_dsn, table, f"{key_prefix}-blocker"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert "error" in out.stdout and "LockNotAvailable" in out.stdout, out.stdout + out.stderr
    fields = out.stdout.split()
    waited, lag = float(fields[fields.index("waited") + 1]), float(fields[fields.index("lag") + 1])
    assert waited >= 0.7  # it really waited for the lock ...
    assert lag < 0.4  # ... without holding the event loop (a blocking wait would lag >= 0.8 s)
