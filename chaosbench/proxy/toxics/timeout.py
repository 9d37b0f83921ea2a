"""timeout: data is dropped (a stall); the connection is closed ``timeout`` ms after the toxic
takes effect on it. ``timeout: 0``: never closed, data dropped until the toxic is removed.

Profile fault ``stall`` (``timeout_ms``, ``stream``, ``toxicity``): data stops flowing on a
route; with ``timeout_ms`` > 0 the connection is closed after that long, with 0 it hangs until
the fault is reverted. Intensity scales the toxicity (share of connections stalled). Seeds: API
timeouts, half-open connections.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from chaosbench.proxy.toxics import register
from chaosbench.proxy.toxics.base import Out, TcpState, TcpToxic, TimerMixin, ToxicAttributes
from chaosbench.proxy.toxics.profile import ToxicSettings


class TimeoutAttributes(ToxicAttributes):
    timeout: int = 0


class StallSettings(ToxicSettings):
    timeout_ms: int = Field(default=0, ge=0)

    def attributes(self, intensity: float) -> dict[str, Any]:
        return {"timeout": self.timeout_ms}


class TimeoutState(TimerMixin, TcpState):
    def start(self) -> None:
        a = self.toxic.attributes
        assert isinstance(a, TimeoutAttributes)
        if a.timeout > 0:
            self.start_timer(self.toxic, a.timeout / 1000.0, lambda: self.link.close())

    def stop(self) -> None:
        self.stop_timer()

    def process(self, data: bytes, t: float, out: Out) -> None:
        if self.toxic.removed.is_set():
            out(data, t)
        # else: dropped on the floor, as Toxiproxy does


@register
class Timeout(TcpToxic):
    type_name = "timeout"
    Attributes = TimeoutAttributes
    State = TimeoutState
    profile_name = "stall"
    Profile = StallSettings
