"""clock_skew: shift the harness's own client timestamps (the run's ``ClientClock.wall()``).

Sets the run's clock skew (``ctx.state.switches``) to ``offset_ms / 1000 * intensity`` for the
burst and puts the previous skew back at revert. The machine's clock is not touched, nor the
recorder's (which uses the real clock): what moves is the time the harness's clients put in or
compare with their messages (WebSocket latency computed against the server's send time), as a
client with a drifting clock would. On a distributed run the master sends the switch to every
worker.

Intensity: scales ``offset_ms`` (which may be negative: a clock behind).
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from chaosbench.chaos.faults.base import Fault, FaultSettings, register


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
        switches = self.ctx.state.switches
        if self._previous is None:
            self._previous = switches.clock.skew
        self.applied_s = self.settings.offset_ms / 1000 * self.intensity
        switches.set_clock_skew(self._previous + self.applied_s)

    def revert(self) -> None:
        if self._previous is not None:
            self.ctx.state.switches.set_clock_skew(self._previous)
            self._previous = None

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "skew_s": self.applied_s}
