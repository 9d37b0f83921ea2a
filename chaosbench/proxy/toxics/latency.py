"""latency: every chunk is held ``latency`` ms (± ``jitter`` ms, uniform) after it was read.

Profile fault ``latency`` (``latency_ms``, ``jitter_ms``, ``stream``, ``toxicity``): intensity
scales ``latency_ms`` and ``jitter_ms``. Seeds: latency spikes (100 ms .. 5 s), slow network,
WebSocket lag.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from chaosbench.proxy.toxics import register
from chaosbench.proxy.toxics.base import Out, TcpState, TcpToxic, ToxicAttributes
from chaosbench.proxy.toxics.profile import ToxicSettings


class LatencyAttributes(ToxicAttributes):
    latency: int = 0
    jitter: int = 0


class LatencySettings(ToxicSettings):
    scale_toxicity: ClassVar[bool] = False

    latency_ms: int = Field(ge=0, le=600_000)
    jitter_ms: int = Field(default=0, ge=0, le=600_000)

    def attributes(self, intensity: float) -> dict[str, Any]:
        return {
            "latency": round(self.latency_ms * intensity),
            "jitter": round(self.jitter_ms * intensity),
        }


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
    profile_name = "latency"
    Profile = LatencySettings
