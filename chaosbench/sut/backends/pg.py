"""A small bounded PostgreSQL connection pool for gevent.

Why not psycopg_pool: its reconnect back-off grows to tens of seconds, and the SUT must recover
within a second or two of PostgreSQL coming back. This pool connects on demand (no background
reconnect loop at all), so the first request after an outage reconnects.

Every operation is bounded three ways: ``connect_timeout`` and ``statement_timeout`` (server side),
and a gevent timer around the whole operation (covers a server that accepts but never answers).
A failure opens the breaker (fail fast for a short cooldown) and surfaces as ``Unavailable``.
Connections that saw any error are closed, never reused. psycopg 3 notices gevent's patched
``select`` and waits cooperatively, so a slow query blocks only its own greenlet.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

import gevent
import gevent.lock
import psycopg
from psycopg import errors as pgerr

from chaosbench.sut.backends.breaker import Breaker, Unavailable

T = TypeVar("T")
APPLICATION_NAME = "chaosbench-sut"


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:200]


class SchemaMissing(Exception):
    """The orders table is gone (dropped, or not yet created)."""


class PgPool:
    def __init__(
        self,
        dsn: str,
        size: int,
        connect_timeout: float,
        statement_timeout: float,
        op_timeout: float,
        breaker: Breaker,
        application_name: str = APPLICATION_NAME,
    ) -> None:
        self.dsn = dsn
        self.application_name = application_name
        self.size = size
        self.connect_timeout = connect_timeout
        self.statement_timeout = statement_timeout
        self.op_timeout = op_timeout
        self.breaker = breaker
        self._sem = gevent.lock.BoundedSemaphore(size)
        self._idle: list[psycopg.Connection] = []
        self.connects = 0

    def _connect(self) -> psycopg.Connection:
        self.connects += 1
        return psycopg.connect(
            self.dsn,
            autocommit=True,
            connect_timeout=max(1, round(self.connect_timeout)),
            application_name=self.application_name,
            options=f"-c statement_timeout={int(self.statement_timeout * 1000)}",
            keepalives=1,
            keepalives_idle=5,
            keepalives_interval=2,
            keepalives_count=2,
        )

    @staticmethod
    def _discard(conn: psycopg.Connection) -> None:
        try:
            conn.close()
        except Exception:
            pass

    def _take(self) -> tuple[psycopg.Connection, bool]:
        while self._idle:
            conn = self._idle.pop()
            if not conn.closed and not conn.broken:
                return conn, True
            self._discard(conn)
        return self._connect(), False

    def run(
        self,
        fn: Callable[[psycopg.Connection], T],
        *,
        timeout: float | None = None,
        use_breaker: bool = True,
    ) -> T:
        """Run ``fn(conn)`` on a pooled connection, bounded by ``timeout`` (default op_timeout).

        ``fn`` must be safe to run twice: when a reused idle connection turns out to be dead
        (server restarted, backend terminated), it is run once more on a fresh connection.
        """
        if use_breaker:
            self.breaker.check()
        limit = self.op_timeout if timeout is None else timeout
        if not self._sem.acquire(timeout=limit):
            raise Unavailable("postgres", f"all {self.size} connections busy")
        timer = gevent.Timeout(limit)
        timer.start()
        conn: psycopg.Connection | None = None
        try:
            for attempt in (1, 2):
                conn, reused = self._take()
                try:
                    result = fn(conn)
                except (psycopg.OperationalError, psycopg.InterfaceError):
                    if reused and attempt == 1 and (conn.closed or conn.broken):
                        self._discard(conn)
                        conn = None
                        continue
                    raise
                self._idle.append(conn)
                conn = None
                self.breaker.success()
                return result
            raise AssertionError("unreachable")
        except gevent.Timeout as t:
            if t is not timer:
                raise
            self.breaker.failure(f"no answer within {limit:g}s")
            raise Unavailable("postgres", f"no answer within {limit:g}s") from None
        except pgerr.UndefinedTable as exc:
            raise SchemaMissing(_short(exc)) from None
        except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
            self.breaker.failure(_short(exc))
            raise Unavailable("postgres", _short(exc)) from None
        finally:
            timer.close()
            if conn is not None:
                self._discard(conn)
            self._sem.release()

    def ping(self, timeout: float) -> None:
        """Round trip ``SELECT 1``; ignores the breaker (this is how it learns of recovery)."""
        self.run(lambda c: c.execute("SELECT 1").fetchone(), timeout=timeout, use_breaker=False)

    def close(self) -> None:
        while self._idle:
            self._discard(self._idle.pop())
