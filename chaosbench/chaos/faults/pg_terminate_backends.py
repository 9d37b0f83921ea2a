"""pg_terminate_backends: terminate PostgreSQL backends (transient or persistent connection loss).

Selects the client backends of one database (the DSN's, unless ``all_databases``), optionally
only those of an ``application_name`` (exact, or a prefix ending in ``*``) or a ``user``, and
terminates a share of them with ``pg_terminate_backend``. Never the fault's own admin
connection, nor any ``chaosbench-chaos`` connection of the other faults.

Intensity: the share of the matching backends terminated (rounded up; at least one).
With ``every_ms``, the termination repeats during the whole burst (persistent connection loss:
every reconnect is cut again); without it, it happens once at burst start.
"""

from __future__ import annotations

from typing import Any

import psycopg
from pydantic import Field

from chaosbench.chaos.faults._common import (
    ADMIN_NAME,
    DEFAULT_PG_DSN,
    RepeatedRounds,
    pg_close,
    pg_connect,
    pg_targets,
    scaled,
)
from chaosbench.chaos.faults.base import Fault, FaultSettings, register


class PgTerminateSettings(FaultSettings):
    dsn: str = DEFAULT_PG_DSN
    application_name: str | None = None  # exact, or "prefix*"
    user: str | None = None
    all_databases: bool = False
    every_ms: int | None = Field(default=None, ge=50)


@register
class PgTerminateBackends(RepeatedRounds, Fault[PgTerminateSettings]):
    type_name = "pg_terminate_backends"
    Settings = PgTerminateSettings

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.terminated: list[int] = []
        self.rounds = 0
        self.errors: list[str] = []

    def targets(self) -> list[str]:
        return pg_targets(self.settings.dsn)

    def _select(self, conn: psycopg.Connection) -> list[int]:
        s = self.settings
        where = [
            "pid <> pg_backend_pid()",
            "backend_type = 'client backend'",
            "coalesce(application_name, '') NOT LIKE %(admin)s",
        ]
        params: dict[str, Any] = {"admin": f"{ADMIN_NAME}%"}
        if not s.all_databases:
            where.append("datname = current_database()")
        if s.application_name is not None:
            if s.application_name.endswith("*"):
                where.append("application_name LIKE %(app)s")
                params["app"] = s.application_name[:-1].replace("%", r"\%") + "%"
            else:
                where.append("application_name = %(app)s")
                params["app"] = s.application_name
        if s.user is not None:
            where.append("usename = %(user)s")
            params["user"] = s.user
        sql = f"SELECT pid FROM pg_stat_activity WHERE {' AND '.join(where)} ORDER BY pid"
        return [int(r[0]) for r in conn.execute(sql, params).fetchall()]

    def _round(self) -> None:
        conn = pg_connect(self.settings.dsn)
        try:
            pids = self._select(conn)
            chosen = self.ctx.rng.sample(pids, scaled(len(pids), self.intensity))
            for pid in chosen:
                row = conn.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone()
                if row and row[0]:
                    self.terminated.append(pid)
            self.rounds += 1
        finally:
            pg_close(conn)

    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            "terminated": len(self.terminated),
            "rounds": self.rounds,
            "errors": self.errors[-3:],
        }
