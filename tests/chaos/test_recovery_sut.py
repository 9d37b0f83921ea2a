"""The reference system under real server faults: it recovers without a restart and loses no
acknowledged order; the integrity canary's damage is found by the end-of-run check.

The system under test runs as ``python -m chaosbench.sut`` on its own PostgreSQL database (created
here, so
that terminating its backends cannot touch anybody else's) and its own Redis database number and
key prefix (so that killing its Redis clients spares the other engineers' ones).
"""

from __future__ import annotations

import json
import random
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import psycopg
import pytest
import redis

from chaosbench.analysis.integrity_check import build_integrity, check_orders
from chaosbench.chaos.faults import FaultContext, catalogue
from chaosbench.chaos.faults.base import Fault
from chaosbench.ground.state import RunState
from tests.conftest import PYTHON, Proc, free_port, wait_until

SUT_APP = "chaosbench-sut"  # the reference system's application_name and Redis client name


def make(type_name: str, state: RunState | None = None, **settings: Any) -> Fault[Any]:
    cls = catalogue()[type_name]
    ctx = FaultContext(rng=random.Random(2), state=state or RunState())
    return cls(f"t-{type_name}", cls.Settings(**settings), ctx, 1.0)


@dataclass
class Sut:
    proc: Proc
    url: str
    dsn: str
    schema: str
    redis_url: str
    redis_db: int


@pytest.fixture
def sut(pg_dsn: str, key_prefix: str, spawn: Callable[..., Proc]) -> Iterator[Sut]:
    base = pg_dsn.rsplit("/", 1)[0]
    with psycopg.connect(f"{base}/postgres", autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {key_prefix}")
    dsn = f"{base}/{key_prefix}"
    db = random.Random(key_prefix).randrange(10, 16)
    redis_url = f"redis://127.0.0.1:6379/{db}"
    port = free_port()
    proc = spawn(
        [
            PYTHON,
            "-m",
            "chaosbench.sut",
            "--port",
            str(port),
            "--pg-dsn",
            dsn,
            "--pg-schema",
            "orders_s",
            "--redis-url",
            redis_url,
            "--redis-prefix",
            f"{key_prefix}:",
            "--quote-rate",
            "0",
            "--rate-limit",
            "0",
        ],
        name="sut",
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: health(url) == 200, timeout=30)
        yield Sut(proc, url, dsn, "orders_s", redis_url, db)
    finally:
        proc.stop()
        r = redis.Redis.from_url(redis_url)
        keys = list(r.scan_iter(match=f"{key_prefix}:*", count=1000))
        if keys:
            r.delete(*keys)
        r.close()
        with psycopg.connect(f"{base}/postgres", autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {key_prefix} WITH (FORCE)")


def health(url: str) -> int:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=2) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except OSError:
        return 0


@dataclass
class Load:
    """Orders placed in a bounded loop on a thread; acknowledged ones are recorded."""

    url: str
    acked: dict[str, str] = field(default_factory=dict)  # order id -> client order id
    statuses: dict[int, int] = field(default_factory=dict)
    stop: threading.Event = field(default_factory=threading.Event)
    state: RunState = field(default_factory=RunState)  # the run's: acknowledged orders go there

    def place(self) -> None:
        cid = f"c-{uuid.uuid4().hex[:12]}"
        body = json.dumps(
            {"symbol": "ABC", "side": "buy", "quantity": 1, "price": 10.5, "client_order_id": cid}
        ).encode()
        req = urllib.request.Request(
            f"{self.url}/api/orders",
            data=body,
            headers={"content-type": "application/json", "idempotency-key": cid},
        )
        try:
            with urllib.request.urlopen(req, timeout=5) as resp:
                status, answer = int(resp.status), json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            status, answer = int(exc.code), None
        except OSError:
            status, answer = 0, None
        self.statuses[status] = self.statuses.get(status, 0) + 1
        if status == 201 and answer is not None:
            self.acked[str(answer["order_id"])] = cid
            self.state.counters.order_acknowledged(str(answer["order_id"]), cid)
        else:
            time.sleep(0.01)  # pacing while the system under test fails fast (503)

    def run(self, max_requests: int = 3000, max_s: float = 60.0) -> None:
        deadline = time.monotonic() + max_s
        for _ in range(max_requests):
            if self.stop.is_set() or time.monotonic() > deadline:
                return
            self.place()


def sut_clients(redis_url: str, db: int) -> int:
    r = redis.Redis.from_url(redis_url, client_name="cbt-observer")
    try:
        return sum(
            1
            for c in r.client_list(_type="normal")
            if c.get("name") == SUT_APP and str(c.get("db")) == str(db)
        )
    finally:
        r.close()


def test_sut_recovers_from_backend_termination_and_client_kill(sut: Sut) -> None:
    load = Load(sut.url)
    worker = threading.Thread(target=load.run, daemon=True)
    worker.start()
    try:
        wait_until(lambda: len(load.acked) >= 20, timeout=30)
        wait_until(lambda: sut_clients(sut.redis_url, sut.redis_db) > 0, timeout=10)
        pg_kill = make("pg_terminate_backends", dsn=sut.dsn, application_name=SUT_APP)
        redis_kill = make(
            "redis_client_kill", url=sut.redis_url, client_name=SUT_APP, db=sut.redis_db
        )
        before = len(load.acked)
        for fault in (pg_kill, redis_kill):
            fault.inject()
            fault.revert()
        assert pg_kill.describe()["terminated"] >= 1
        assert redis_kill.describe()["killed"] >= 1
        # It recovers by itself: new orders are acknowledged again after the faults.
        wait_until(lambda: len(load.acked) >= before + 20, timeout=30)
    finally:
        load.stop.set()
        worker.join(15)
    assert not worker.is_alive()
    assert sut.proc.popen.poll() is None  # no restart
    wait_until(lambda: health(sut.url) == 200, timeout=15)
    result = check_orders(load.acked, sut.dsn, sut.schema)
    assert result.checked and result.lost == 0 and result.duplicated == 0, result
    assert result.stored == len(load.acked)


def test_integrity_canary_damage_is_found(sut: Sut) -> None:
    load = Load(sut.url)
    for _ in range(30):
        load.place()
    assert len(load.acked) >= 10
    canary = {"dsn": sut.dsn, "schema": sut.schema}
    corrupt = make("integrity_canary", load.state, **canary, action="corrupt", count=2)
    delete = make("integrity_canary", load.state, **canary, action="delete")
    corrupt.inject()
    delete.inject()
    corrupt.revert()  # no restore: the damage stays for the end-of-run check
    delete.revert()
    changed = {**corrupt.describe()["changed"], **delete.describe()["changed"]}
    assert len(changed) == 3 and set(changed) <= set(load.acked)
    assert set(changed) == load.state.counters.canary_orders
    integ = build_integrity(load.state.counters, sut.dsn, sut.schema)
    assert integ.checked and integ.canary_injected == 3 and integ.canary_found == 3
    assert integ.orders_lost == 0  # canary damage is not counted as a real loss
    # ... and the raw check sees exactly the damaged orders as lost.
    raw = check_orders(load.acked, sut.dsn, sut.schema)
    assert set(raw.lost_ids or []) == set(changed)


def test_integrity_canary_restore(sut: Sut) -> None:
    load = Load(sut.url)
    for _ in range(5):
        load.place()
    fault = make(
        "integrity_canary",
        load.state,
        dsn=sut.dsn,
        schema=sut.schema,
        action="delete",
        restore=True,
    )
    fault.inject()
    assert check_orders(load.acked, sut.dsn, sut.schema).lost == 1
    fault.revert()
    assert check_orders(load.acked, sut.dsn, sut.schema).lost == 0
    assert load.state.counters.canary_orders == set()
