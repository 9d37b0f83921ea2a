"""pg_slow_queries: a share of the harness's own PostgreSQL queries is slowed by ``pg_sleep``.

The fault sets the run's switch (``ctx.state.switches``, :mod:`chaosbench.ground.switches`); the
PostgreSQL load user asks ``switches.pg_slow_delay()`` before every query and runs ``pg_sleep``
for the slowed ones (the production report's "2-second query delay"). The server is not touched,
so the fault has no network target; on a distributed run the master sends the switch to every
worker, whose PostgreSQL users are slowed alike.

Intensity: scales ``share`` (the share of queries slowed = ``share * intensity``).
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from chaosbench.chaos.faults.base import Fault, FaultSettings, register


class PgSlowSettings(FaultSettings):
    share: float = Field(default=0.5, ge=0.0, le=1.0)
    sleep_ms: int = Field(default=2000, ge=1, le=600_000)


@register
class PgSlowQueries(Fault[PgSlowSettings]):
    type_name = "pg_slow_queries"
    Settings = PgSlowSettings

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._active = False

    def targets(self) -> list[str]:
        return []  # in-process: the harness's own PostgreSQL user

    @property
    def target(self) -> str:
        return "harness:pg_user"

    def inject(self) -> None:
        self.ctx.state.switches.set_pg_slow(
            self.settings.share * self.intensity,
            self.settings.sleep_ms / 1000,
            seed=self.ctx.rng.randrange(2**32),
        )
        self._active = True

    def revert(self) -> None:
        if self._active:
            self.ctx.state.switches.clear_pg_slow()
            self._active = False

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "effective_share": self.settings.share * self.intensity}
