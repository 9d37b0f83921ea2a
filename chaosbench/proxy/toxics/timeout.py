"""timeout: data is dropped (a stall); the connection is closed ``timeout`` ms after the toxic
takes effect on it. ``timeout: 0``: never closed, data dropped until the toxic is removed."""

from __future__ import annotations

from chaosbench.proxy.toxics import register
from chaosbench.proxy.toxics.base import Out, TcpState, TcpToxic, TimerMixin, ToxicAttributes


class TimeoutAttributes(ToxicAttributes):
    timeout: int = 0


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
