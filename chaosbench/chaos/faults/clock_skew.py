"""clock_skew: shift the harness's own client timestamps (``chaosbench.ground.clock.wall()``).

Sets ``chaosbench.ground.clock.set_skew(offset_ms / 1000 * intensity)`` for the burst and puts the
previous skew back at revert. The machine's clock is not touched: what moves is the time the
harness's clients put in their messages (order timestamps, WebSocket latency computed against
the server's send time), as a client with a drifting clock would.

Intensity: scales ``offset_ms`` (which may be negative: a clock behind).
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from chaosbench.chaos.faults.base import Fault, FaultSettings, register
from chaosbench.ground import clock


class ClockSkewSettings(FaultSettings):
    offset_ms: float = Field(default=500.0, ge=-86_400_000, le=86_400_000)


@register
class ClockSkew(Fault[ClockSkewSettings]):
    type_name = "clock_skew"
    Settings = ClockSkewSettings

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._previous: float | None = None
        self.applied_s = 0.0

    def targets(self) -> list[str]:
        return []  # in-process

    @property
    def target(self) -> str:
        return "harness:clock"

    def inject(self) -> None:
        if self._previous is None:
            self._previous = clock.skew()
        self.applied_s = self.settings.offset_ms / 1000 * self.intensity
        clock.set_skew(self._previous + self.applied_s)

    def revert(self) -> None:
        if self._previous is not None:
            clock.set_skew(self._previous)
            self._previous = None

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "skew_s": self.applied_s}
