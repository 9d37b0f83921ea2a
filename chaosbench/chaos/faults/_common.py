"""Helpers shared by the server, process and host faults (not a fault: the name starts with _).

- admin connections to PostgreSQL and Redis, named ``chaosbench-chaos`` so that the faults that
  terminate backends or kill clients never hit the harness's own admin connections; a server
  that cannot be connected to raises ``TargetUnreachable`` naming it (``PostgreSQL
  127.0.0.1:1: connection refused``); every later error is the library's own, translated once
  by the scheduler;
- intensity scaling, the ledger calls of persistent faults, a repeating greenlet.

All I/O is gevent-cooperative once Locust has monkey-patched the process: psycopg 3 detects
gevent and waits through the patched ``select``; redis-py uses patched sockets.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import gevent
import psycopg
import redis

from chaosbench.chaos.faults.base import Fault
from chaosbench.ground import defaults
from chaosbench.ground.endpoints import pg_endpoints, redis_endpoint
from chaosbench.ground.errors import FaultError, TargetUnreachable
from chaosbench.ground.translate import error_line, translate

#: application_name / Redis client name of every connection the faults open themselves.
ADMIN_NAME = "chaosbench-chaos"
DEFAULT_PG_DSN = defaults.PG_DSN  # as the SUT and the users
DEFAULT_REDIS_URL = defaults.REDIS_URL


def scaled(n: int, intensity: float) -> int:
    """``ceil(n * intensity)`` clamped to 0..n: at least one when both are positive."""
    if n <= 0 or intensity <= 0:
        return 0
    return min(n, max(1, math.ceil(n * intensity)))


# -- PostgreSQL ---------------------------------------------------------------------------------
def pg_targets(dsn: str) -> list[str]:
    """Every ``host:port`` (``local:<dir>`` for a Unix socket) libpq could connect to with
    ``dsn``: the environment (``PGHOST``, ``PGHOSTADDR``, ``PGPORT``, ``PGSERVICE``) and service
    files applied, each host of a list (``ground/endpoints.py``). A fault's ``targets()``."""
    try:
        return pg_endpoints(dsn)
    except ValueError as exc:
        raise FaultError(str(exc)) from None


def pg_target(dsn: str) -> str:
    """The effective targets of ``dsn`` as one label (``a:5432,b:5432``), for messages."""
    return ",".join(pg_targets(dsn))


def pg_connect(dsn: str, name: str = ADMIN_NAME, autocommit: bool = True) -> psycopg.Connection:
    label = pg_target(dsn)
    try:
        return psycopg.connect(dsn, application_name=name, autocommit=autocommit, connect_timeout=5)
    except psycopg.Error as exc:
        raise translate(exc, f"PostgreSQL {label}", TargetUnreachable) from None


def pg_close(conn: psycopg.Connection | None) -> None:
    if conn is None:
        return
    try:
        conn.close()
    except Exception:  # already broken: closing is all we wanted
        pass


# -- Redis --------------------------------------------------------------------------------------
def redis_target(url: str) -> str:
    """The ``host:port`` (``local:<path>`` for a Unix socket) redis-py connects to with ``url``,
    read with redis-py's own URL parser (``?host=`` in the query counts)."""
    try:
        return redis_endpoint(url)
    except ValueError as exc:
        raise FaultError(str(exc)) from None


def redis_connect(url: str) -> redis.Redis:
    label = redis_target(url)
    try:
        client = redis.Redis.from_url(
            url, client_name=ADMIN_NAME, socket_timeout=5, socket_connect_timeout=5
        )
        client.ping()
    except (redis.RedisError, ValueError) as exc:  # ValueError: a malformed URL
        raise translate(exc, f"Redis {label}", TargetUnreachable) from None
    return client


# -- persistence and repetition -----------------------------------------------------------------
def ledger_record(fault: Fault[Any], undo: dict[str, Any]) -> None:
    """Persist the undo state of ``fault`` before applying it (no ledger: nothing to do)."""
    if fault.ctx.ledger is not None:
        fault.ctx.ledger.record(fault, undo)


def ledger_remove(fault: Fault[Any]) -> None:
    if fault.ctx.ledger is not None:
        fault.ctx.ledger.remove(fault)


class Repeater:
    """Call ``fn`` every ``interval`` seconds in a greenlet until stopped (errors are kept)."""

    def __init__(self, interval: float, fn: Callable[[], None]) -> None:
        self.interval = interval
        self.fn = fn
        self.errors: list[str] = []
        self._greenlet: gevent.Greenlet | None = gevent.spawn(self._run)

    def _run(self) -> None:
        while True:
            gevent.sleep(self.interval)
            try:
                self.fn()
            except Exception as exc:
                self.errors.append(error_line(exc))

    def stop(self) -> None:
        if self._greenlet is not None:
            self._greenlet.kill()
            self._greenlet = None


class RepeatedRounds:
    """Mixin (before ``Fault`` in the bases) for faults that act in rounds: ``inject()`` runs one
    ``_round()`` now and, when the settings have ``every_ms``, one more every ``every_ms`` for
    the rest of the burst; ``revert()`` stops the rounds. Errors of later rounds are kept in
    ``errors`` (the first round's error raises, so the scheduler journals it)."""

    settings: Any
    errors: list[str]
    _repeater: Repeater | None = None

    def _round(self) -> None:
        raise NotImplementedError

    def inject(self) -> None:
        self._round()
        every_ms = getattr(self.settings, "every_ms", None)
        if every_ms is not None:
            self._repeater = Repeater(every_ms / 1000, self._round)
            self.errors = self._repeater.errors

    def revert(self) -> None:
        if self._repeater is not None:
            self._repeater.stop()
            self._repeater = None
