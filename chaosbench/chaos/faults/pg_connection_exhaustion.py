"""pg_connection_exhaustion: hold PostgreSQL connections for the burst (pool/server exhaustion).

Opens idle connections (application_name ``chaosbench-chaos-hold``) and keeps them until revert.
How many: ``connections`` when given; otherwise every slot still free on the server
(``max_connections - superuser_reserved_connections - connections in use``) minus
``leave_free``. Never more than ``max_held``. A refusal from the server ("too many clients")
stops the filling: the server is exhausted, which is the point.

Intensity: the share of that number that is held (1.0: all of it).
Held connections die with the process, so the fault does not outlive the harness.
"""

from __future__ import annotations

from typing import Any

import psycopg
from pydantic import Field

from chaosbench.chaos.faults._common import (
    ADMIN_NAME,
    DEFAULT_PG_DSN,
    pg_close,
    pg_connect,
    pg_targets,
    scaled,
)
from chaosbench.chaos.faults.base import Fault, FaultSettings, register
from chaosbench.ground.errors import TargetUnreachable

HOLD_NAME = f"{ADMIN_NAME}-hold"


class PgExhaustionSettings(FaultSettings):
    dsn: str = DEFAULT_PG_DSN
    connections: int | None = Field(default=None, ge=1)
    leave_free: int = Field(default=2, ge=0)
    max_held: int = Field(default=500, ge=1)


@register
class PgConnectionExhaustion(Fault[PgExhaustionSettings]):
    type_name = "pg_connection_exhaustion"
    Settings = PgExhaustionSettings

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._held: list[psycopg.Connection] = []
        self.wanted = 0
        self.opened = 0
        self.refused: str | None = None

    def targets(self) -> list[str]:
        return pg_targets(self.settings.dsn)

    def _free_slots(self) -> int:
        conn = pg_connect(self.settings.dsn)
        try:
            row = conn.execute(
                "SELECT current_setting('max_connections')::int"
                " - current_setting('superuser_reserved_connections')::int"
                " - (SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'client backend')"
            ).fetchone()
        finally:
            pg_close(conn)
        return int(row[0]) if row else 0

    def inject(self) -> None:
        s = self.settings
        base = s.connections if s.connections is not None else self._free_slots() - s.leave_free
        self.wanted = min(s.max_held, scaled(max(base, 0), self.intensity))
        for _ in range(self.wanted):
            try:
                self._held.append(pg_connect(s.dsn, name=HOLD_NAME))
            except TargetUnreachable as exc:
                self.refused = str(exc)  # the server is full: exhausted
                break
        self.opened = len(self._held)

    def revert(self) -> None:
        held, self._held = self._held, []
        for conn in held:
            pg_close(conn)

    @property
    def held(self) -> int:
        return len(self._held)

    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            "wanted": self.wanted,
            "opened": self.opened,
            "refused": self.refused,
        }
