"""The SUT's dependency layer in process (gevent primitives work without monkey-patching here):
overload is not a failure, failures open the breaker, the breaker closes on the next success."""

from __future__ import annotations

import time
import uuid

import pytest

from chaosbench.sut.backends.breaker import Breaker, Unavailable
from chaosbench.sut.backends.pg import PgPool
from chaosbench.sut.backends.redisio import RedisBackend
from tests.conftest import PG_DSN, REDIS_URL


def test_breaker_opens_for_the_cooldown_and_closes_on_success() -> None:
    b = Breaker("redis", cooldown=0.2)
    b.check()
    b.failure("boom")
    with pytest.raises(Unavailable, match="boom"):
        b.check()
    time.sleep(0.25)
    b.check()  # half-open: requests may try again
    b.failure("again")
    b.success()
    b.check()
    assert b.failures == 2 and not b.is_open


def test_redis_all_connections_busy_is_not_a_redis_failure() -> None:
    backend = RedisBackend(REDIS_URL, f"cbt_{uuid.uuid4().hex[:8]}:", 1, 0.1, Breaker("redis", 1))
    assert backend._sem.acquire(timeout=1)  # another request holds the only connection
    try:
        with pytest.raises(Unavailable, match="busy"):
            backend.call(lambda r: r.ping())
    finally:
        backend._sem.release()
    assert backend.breaker.failures == 0 and not backend.breaker.is_open
    assert backend.call(lambda r: r.ping()) is True
    backend.close()


def test_pg_all_connections_busy_is_not_a_postgres_failure() -> None:
    pool = PgPool(PG_DSN, 1, 2.0, 2.0, 0.1, Breaker("postgres", 1))
    assert pool._sem.acquire(timeout=1)
    try:
        with pytest.raises(Unavailable, match="busy"):
            pool.run(lambda c: c.execute("SELECT 1").fetchone())
    finally:
        pool._sem.release()
    assert pool.breaker.failures == 0 and not pool.breaker.is_open
    assert pool.run(lambda c: c.execute("SELECT 1").fetchone(), timeout=5) == (1,)
    pool.close()


def test_refused_dependency_opens_the_breaker() -> None:
    backend = RedisBackend("redis://127.0.0.1:1/0", "cbt_x:", 1, 0.2, Breaker("redis", 5))
    with pytest.raises(Unavailable):
        backend.call(lambda r: r.ping())
    assert backend.breaker.is_open
    start = time.perf_counter()
    with pytest.raises(Unavailable):  # fails fast while open
        backend.call(lambda r: r.ping())
    assert time.perf_counter() - start < 0.05
