"""latency: every chunk is held ``latency`` ms (± ``jitter`` ms, uniform) after it was read."""

from __future__ import annotations

from chaosbench.proxy.toxics import register
from chaosbench.proxy.toxics.base import Out, TcpState, TcpToxic, ToxicAttributes


class LatencyAttributes(ToxicAttributes):
    latency: int = 0
    jitter: int = 0


class LatencyState(TcpState):
    def process(self, data: bytes, t: float, out: Out) -> None:
        a = self.toxic.attributes
        assert isinstance(a, LatencyAttributes)
        delay = float(a.latency)
        if a.jitter > 0:
            delay += self.toxic.rng.uniform(-a.jitter, a.jitter)
        self.toxic.wait_until(t + max(0.0, delay) / 1000.0)
        out(data, t)


@register
class Latency(TcpToxic):
    type_name = "latency"
    Attributes = LatencyAttributes
    State = LatencyState
