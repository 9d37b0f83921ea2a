"""Redis for the SUT: bounded pool, short timeouts, no hidden retries, a breaker, and a writer.

Reads on the request path go through ``call`` (fails fast with ``Unavailable`` while the breaker is
open). Writes that nobody waits for (quotes, replay buffer, cache fills) go through the background
``Writer``: a greenlet that flushes them in one pipeline, so a hung Redis never delays an answer.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar

import gevent
import gevent.event
import gevent.lock
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from chaosbench.sut.backends.breaker import Breaker, Unavailable

T = TypeVar("T")
CLIENT_NAME = "chaosbench-sut"


class RedisBackend:
    def __init__(
        self, url: str, prefix: str, pool_size: int, timeout: float, breaker: Breaker
    ) -> None:
        self.prefix = prefix
        self.timeout = timeout
        self.breaker = breaker
        pool = redis.BlockingConnectionPool.from_url(
            url,
            max_connections=pool_size + 1,  # +1: never the bottleneck (the semaphore is)
            timeout=timeout,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            socket_keepalive=True,
            client_name=CLIENT_NAME,
            retry=Retry(NoBackoff(), 0),
            health_check_interval=0,
        )
        self.client = redis.Redis(connection_pool=pool)
        # Callers queue here, not in redis-py's pool: a wait for a free connection is local
        # overload (answered 503 without opening the breaker), not a Redis failure.
        self.pool_size = pool_size
        self._sem = gevent.lock.BoundedSemaphore(pool_size)

    def key(self, *parts: str) -> str:
        return self.prefix + ":".join(parts)

    def call(
        self,
        fn: Callable[[redis.Redis], T],
        *,
        timeout: float | None = None,
        use_breaker: bool = True,
    ) -> T:
        if use_breaker:
            self.breaker.check()
        limit = 2 * self.timeout if timeout is None else timeout
        if not self._sem.acquire(timeout=limit):
            raise Unavailable("redis", f"all {self.pool_size} connections busy")
        timer = gevent.Timeout(limit)
        timer.start()
        try:
            result = fn(self.client)
        except gevent.Timeout as t:
            if t is not timer:
                raise
            self.breaker.failure(f"no answer within {limit:g}s")
            raise Unavailable("redis", f"no answer within {limit:g}s") from None
        except (redis.ConnectionError, redis.TimeoutError, OSError) as exc:
            self.breaker.failure(str(exc)[:200] or type(exc).__name__)
            raise Unavailable("redis", str(exc)[:200] or type(exc).__name__) from None
        except redis.ResponseError as exc:
            # BUSY, LOADING, OOM under maxmemory: the server is there but cannot serve us.
            self.breaker.failure(str(exc)[:200])
            raise Unavailable("redis", str(exc)[:200]) from None
        finally:
            timer.close()
            self._sem.release()
        self.breaker.success()
        return result

    def ping(self, timeout: float) -> None:
        self.call(lambda r: r.ping(), timeout=timeout, use_breaker=False)

    def close(self) -> None:
        self.client.connection_pool.disconnect()


class Writer:
    """Background writes: latest-wins keys (quotes), bounded appends (replay list), cache fills.

    Pending work is bounded: while Redis is down, keyed values keep only the latest and list
    appends keep the newest ``max_pending``; the in-process state stays authoritative.
    """

    def __init__(self, backend: RedisBackend, interval: float = 0.02, max_pending: int = 20000):
        self.backend = backend
        self.interval = interval
        self.max_pending = max_pending
        self._sets: dict[str, tuple[str, int | None]] = {}
        self._appends: dict[str, tuple[list[str], int]] = {}
        self._wake = gevent.event.Event()
        self._greenlet: gevent.Greenlet | None = None
        self.flushes = 0
        self.errors = 0
        self._flushing = False

    def set(self, key: str, value: str, ttl: int | None = None) -> None:
        self._sets[key] = (value, ttl)
        self._wake.set()

    def append(self, key: str, value: str, keep: int) -> None:
        items, _ = self._appends.setdefault(key, ([], keep))
        items.append(value)
        if len(items) > self.max_pending:
            del items[: len(items) - self.max_pending]
        self._wake.set()

    def start(self) -> Writer:
        self._greenlet = gevent.spawn(self._run)
        return self

    def stop(self) -> None:
        if self._greenlet is not None:
            self._greenlet.kill()

    def drain(self, timeout: float) -> bool:
        """Wait until everything pending is written; False if that took longer than ``timeout``."""
        deadline = time.monotonic() + timeout
        self._wake.set()
        while self._sets or self._appends or self._flushing:
            if time.monotonic() > deadline:
                return False
            gevent.sleep(0.01)
        return True

    def _run(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            gevent.sleep(self.interval)  # batch what arrives meanwhile
            if not self._sets and not self._appends:
                continue
            sets, appends = self._sets, self._appends
            self._sets, self._appends = {}, {}
            self._flushing = True
            try:
                self.backend.call(
                    partial(self._flush, sets=sets, appends=appends), use_breaker=False
                )
                self.flushes += 1
                self._flushing = False
            except Unavailable:
                self.errors += 1
                self._requeue(sets, appends)
                self._flushing = False
                gevent.sleep(min(1.0, self.backend.breaker.cooldown or 0.2))
                self._wake.set()
            finally:
                self._flushing = False

    @staticmethod
    def _flush(
        r: redis.Redis,
        sets: dict[str, tuple[str, int | None]],
        appends: dict[str, tuple[list[str], int]],
    ) -> Any:
        pipe = r.pipeline(transaction=False)
        for key, (value, ttl) in sets.items():
            pipe.set(key, value, ex=ttl)
        for key, (items, keep) in appends.items():
            pipe.rpush(key, *items)
            pipe.ltrim(key, -keep, -1)
        return pipe.execute()

    def _requeue(
        self, sets: dict[str, tuple[str, int | None]], appends: dict[str, tuple[list[str], int]]
    ) -> None:
        for key, value in sets.items():
            self._sets.setdefault(key, value)
        for key, (items, keep) in appends.items():
            newer, _ = self._appends.get(key, ([], keep))
            merged = (items + newer)[-self.max_pending :]
            self._appends[key] = (merged, keep)
