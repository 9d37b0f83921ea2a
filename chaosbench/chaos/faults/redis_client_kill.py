"""redis_client_kill: close Redis client connections (transient connection loss, failover).

Lists the server's clients (``CLIENT LIST TYPE normal``) and kills, by id, those that match
``client_name`` (exact, or a prefix ending in ``*``), ``addr`` (``host:port``, or ``host`` for
every port of that host) and ``db`` (the database the client selected), as far as given. With
none of them, every normal client is a candidate. Never the fault's own connection, nor any
``chaosbench-chaos`` connection of the other faults.

Intensity: the share of the matching clients killed (rounded up; at least one).
With ``every_ms`` the kill repeats during the burst (every reconnect is cut again).
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from chaosbench.chaos.faults._common import (
    ADMIN_NAME,
    DEFAULT_REDIS_URL,
    RepeatedRounds,
    redis_connect,
    redis_target,
    scaled,
)
from chaosbench.chaos.faults._settings import RedisUrl
from chaosbench.chaos.faults.base import Fault, FaultSettings, register


class RedisKillSettings(FaultSettings):
    url: RedisUrl = DEFAULT_REDIS_URL
    client_name: str | None = None  # exact, or "prefix*" (the envelope owns `name`)
    addr: str | None = None  # "host:port" or "host"
    db: int | None = Field(default=None, ge=0)  # only clients whose selected database is db
    every_ms: int | None = Field(default=None, ge=50)


def _matches(value: str, pattern: str) -> bool:
    return value.startswith(pattern[:-1]) if pattern.endswith("*") else value == pattern


@register
class RedisClientKill(RepeatedRounds, Fault[RedisKillSettings]):
    type_name = "redis_client_kill"
    Settings = RedisKillSettings

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.killed = 0
        self.rounds = 0
        self.errors: list[str] = []

    def targets(self) -> list[str]:
        return [redis_target(self.settings.url)]

    def _candidates(self, clients: list[dict[str, Any]], own_id: int) -> list[int]:
        s = self.settings
        ids = []
        for c in clients:
            name, addr = str(c.get("name") or ""), str(c.get("addr") or "")
            if int(c["id"]) == own_id or name.startswith(ADMIN_NAME):
                continue
            if s.client_name is not None and not _matches(name, s.client_name):
                continue
            if s.addr is not None and addr != s.addr and addr.rsplit(":", 1)[0] != s.addr:
                continue
            if s.db is not None and str(c.get("db")) != str(s.db):
                continue
            ids.append(int(c["id"]))
        return ids

    def _round(self) -> None:
        client = redis_connect(self.settings.url)
        try:
            own = int(client.client_id())
            ids = self._candidates(client.client_list(_type="normal"), own)
            for cid in self.ctx.rng.sample(ids, scaled(len(ids), self.intensity)):
                self.killed += int(client.execute_command("CLIENT", "KILL", "ID", cid))
            self.rounds += 1
        finally:
            client.close()

    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            "killed": self.killed,
            "rounds": self.rounds,
            "errors": self.errors[-3:],
        }
