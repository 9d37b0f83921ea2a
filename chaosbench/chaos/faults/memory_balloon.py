"""memory_balloon: a bounded child process that holds memory for the burst (memory pressure).

One child allocates ``mb`` MiB (scaled by intensity) and touches every page, so the memory is
resident, then waits. It is killed at revert, and stops by itself after ``max_s`` seconds or as
soon as the harness is gone. The size is capped at 4096 MiB and at half of the memory available,
far below the machine's memory.

Intensity: scales ``mb``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from gevent import subprocess as gsubprocess
from pydantic import Field

from chaosbench.chaos.faults._proc import kill_child, rss_bytes, spawn_child
from chaosbench.chaos.faults.base import Fault, FaultSettings, register
from chaosbench.ground.errors import FaultError

MAX_MB = 4096


def available_mb() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemAvailable:"):
            return int(line.split()[1]) // 1024
    return 0


class MemoryBalloonSettings(FaultSettings):
    mb: int = Field(default=256, ge=1, le=MAX_MB)
    max_s: float = Field(default=600.0, gt=0, le=3600)


@register
class MemoryBalloon(Fault[MemoryBalloonSettings]):
    type_name = "memory_balloon"
    Settings = MemoryBalloonSettings

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._child: gsubprocess.Popen | None = None
        self.size_mb = 0
        self.rss_mb = 0

    def targets(self) -> list[str]:
        return ["127.0.0.1"]

    @property
    def target(self) -> str:
        return "host:memory"

    @property
    def pid(self) -> int | None:
        return self._child.pid if self._child is not None else None

    def inject(self) -> None:
        size = round(self.settings.mb * self.intensity)
        if size <= 0:
            return
        if size > available_mb() // 2:
            raise FaultError(f"{size} MiB is more than half the memory available")
        self._child = spawn_child("mem", size * 1024 * 1024, self.settings.max_s)
        self.size_mb = size
        self.rss_mb = rss_bytes(self._child.pid) // (1024 * 1024)

    def revert(self) -> None:
        child, self._child = self._child, None
        if child is not None:
            kill_child(child)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "mb": self.size_mb, "rss_mb": self.rss_mb}
