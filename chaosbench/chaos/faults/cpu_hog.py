"""cpu_hog: bounded child processes that burn CPU for the burst (a noisy neighbour).

Starts ``workers`` child processes (default: one per core, at most two per core), each busy for
``intensity`` of every 50 ms and sleeping the rest. They are killed at revert; each also stops by
itself after ``max_s`` seconds or as soon as the harness is gone, so nothing outlives it.

Intensity: the duty cycle of each worker (1.0: a busy loop).
"""

from __future__ import annotations

import os
from typing import Any

from gevent import subprocess as gsubprocess
from pydantic import Field, field_validator

from chaosbench.chaos.faults._proc import kill_child, spawn_child
from chaosbench.chaos.faults.base import Fault, FaultSettings, register
from chaosbench.ground.errors import FaultError

CORES = os.cpu_count() or 1


class CpuHogSettings(FaultSettings):
    workers: int | None = Field(default=None, ge=1)
    max_s: float = Field(default=600.0, gt=0, le=3600)

    @field_validator("workers")
    @classmethod
    def _per_core(cls, v: int | None) -> int | None:
        if v is not None and v > 2 * CORES:
            raise ValueError(f"workers is at most 2 per core: {2 * CORES} on this machine, got {v}")
        return v


@register
class CpuHog(Fault[CpuHogSettings]):
    type_name = "cpu_hog"
    Settings = CpuHogSettings

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._children: list[gsubprocess.Popen] = []
        self.started = 0

    def targets(self) -> list[str]:
        return ["127.0.0.1"]

    @property
    def target(self) -> str:
        return "host:cpu"

    @property
    def pids(self) -> list[int]:
        return [c.pid for c in self._children]

    def inject(self) -> None:
        workers = self.settings.workers or CORES
        if workers > 2 * CORES:
            raise FaultError(f"workers {workers} > 2 per core ({2 * CORES})")
        if self.intensity <= 0:
            return
        for _ in range(workers):
            self._children.append(spawn_child("cpu", min(self.intensity, 1.0), self.settings.max_s))
            self.started += 1

    def revert(self) -> None:
        children, self._children = self._children, []
        for child in children:
            kill_child(child)

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "workers": self.started, "duty": self.intensity}
