"""pg_lock_contention: hold a lock on a named table for the burst, so that queries queue behind it.

An admin connection opens a transaction and takes ``LOCK TABLE <table> IN <mode> MODE``
(``ACCESS EXCLUSIVE`` by default: even reads wait; ``EXCLUSIVE`` lets plain reads through and
blocks writes). The lock lives as long as that transaction: revert closes the connection, and if
the harness dies the server ends the transaction with the connection, so nothing outlives it.

Intensity: the share of time the lock is held. 1.0 holds it for the whole burst; below 1.0 it is
held for ``intensity * cycle_ms`` of every ``cycle_ms`` (lock convoys that come and go).
"""

from __future__ import annotations

from typing import Any, Literal

import gevent
import psycopg
from psycopg import sql
from pydantic import Field, field_validator

from chaosbench.chaos.faults._common import DEFAULT_PG_DSN, pg_close, pg_connect, pg_targets
from chaosbench.chaos.faults.base import Fault, FaultSettings, register
from chaosbench.ground.translate import error_line

LockMode = Literal[
    "ACCESS SHARE",
    "ROW SHARE",
    "ROW EXCLUSIVE",
    "SHARE UPDATE EXCLUSIVE",
    "SHARE",
    "SHARE ROW EXCLUSIVE",
    "EXCLUSIVE",
    "ACCESS EXCLUSIVE",
]


class PgLockSettings(FaultSettings):
    dsn: str = DEFAULT_PG_DSN
    table: str  # "schema.table" or "table"
    mode: LockMode = "ACCESS EXCLUSIVE"
    acquire_timeout_ms: int = Field(default=5000, ge=1)
    cycle_ms: int = Field(default=1000, ge=50)

    @field_validator("table")
    @classmethod
    def _table(cls, v: str) -> str:
        parts = v.split(".")
        if not 1 <= len(parts) <= 2 or not all(parts):
            raise ValueError(f"table {v!r} must be 'table' or 'schema.table'")
        return v


@register
class PgLockContention(Fault[PgLockSettings]):
    type_name = "pg_lock_contention"
    Settings = PgLockSettings

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._conn: psycopg.Connection | None = None
        self._cycler: gevent.Greenlet | None = None
        self.acquisitions = 0
        self.error: str | None = None

    def targets(self) -> list[str]:
        return pg_targets(self.settings.dsn)

    def _lock(self) -> None:
        assert self._conn is not None
        s = self.settings
        ident = sql.Identifier(*s.table.split("."))
        self._conn.execute(
            sql.SQL("SET LOCAL lock_timeout = {}").format(sql.Literal(f"{s.acquire_timeout_ms}ms"))
        )
        self._conn.execute(sql.SQL("LOCK TABLE {} IN {} MODE").format(ident, sql.SQL(s.mode)))
        self.acquisitions += 1

    def _cycle(self) -> None:
        assert self._conn is not None
        period = self.settings.cycle_ms / 1000
        held = period * self.intensity
        try:
            while True:
                gevent.sleep(held)
                self._conn.rollback()
                gevent.sleep(period - held)
                self._lock()
        except psycopg.Error as exc:
            self.error = error_line(exc, f"lock on {self.settings.table}")

    def inject(self) -> None:
        if self.intensity <= 0:
            return
        self._conn = pg_connect(self.settings.dsn, autocommit=False)
        self._lock()  # a refusal raises as it is; the scheduler journals it and reverts
        if self.intensity < 1:
            self._cycler = gevent.spawn(self._cycle)

    def revert(self) -> None:
        if self._cycler is not None:
            self._cycler.kill()
            self._cycler = None
        pg_close(self._conn)  # ends the transaction: the lock is released
        self._conn = None

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "acquisitions": self.acquisitions, "error": self.error}
