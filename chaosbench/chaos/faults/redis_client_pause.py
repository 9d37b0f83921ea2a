"""redis_client_pause: ``CLIENT PAUSE`` the Redis server (a frozen or failing-over Redis).

``mode: ALL`` holds every command of every client; ``mode: WRITE`` holds only writes (reads
still answer). The pause is server-wide and ends by itself after the duration, so a dead harness
leaves nothing behind. Revert sends ``CLIENT UNPAUSE`` for a WRITE pause; an ALL pause cannot be
lifted early (Redis holds even ``CLIENT UNPAUSE`` until it ends), so revert leaves it to expire.

Intensity: scales ``duration_ms`` (the length of the pause).
"""

from __future__ import annotations

import time
from typing import Any, Literal

from pydantic import Field

from chaosbench.chaos.faults._common import DEFAULT_REDIS_URL, redis_connect, redis_target
from chaosbench.chaos.faults._settings import RedisUrl
from chaosbench.chaos.faults.base import Fault, FaultSettings, register


class RedisPauseSettings(FaultSettings):
    url: RedisUrl = DEFAULT_REDIS_URL
    mode: Literal["WRITE", "ALL"] = "ALL"
    duration_ms: int = Field(default=2000, ge=1, le=60_000)


@register
class RedisClientPause(Fault[RedisPauseSettings]):
    type_name = "redis_client_pause"
    Settings = RedisPauseSettings

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.paused_ms = 0
        self._until = 0.0

    def targets(self) -> list[str]:
        return [redis_target(self.settings.url)]

    def inject(self) -> None:
        ms = round(self.settings.duration_ms * self.intensity)
        if ms <= 0:
            return
        client = redis_connect(self.settings.url)
        try:
            client.execute_command("CLIENT", "PAUSE", ms, self.settings.mode)
        finally:
            client.close()
        self.paused_ms = ms
        self._until = time.monotonic() + ms / 1000

    def revert(self) -> None:
        if self.settings.mode != "WRITE" or time.monotonic() >= self._until:
            self._until = 0.0
            return
        client = redis_connect(self.settings.url)
        try:
            client.execute_command("CLIENT", "UNPAUSE")
        finally:
            client.close()
        self._until = 0.0

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "paused_ms": self.paused_ms}
