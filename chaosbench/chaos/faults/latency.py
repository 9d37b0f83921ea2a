"""latency: delay every chunk on a proxy route (Toxiproxy ``latency``).

Intensity scales ``latency_ms`` and ``jitter_ms``. Seeds: latency spikes (100 ms .. 5 s), slow
network, WebSocket lag.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from chaosbench.chaos.faults._toxic import ToxicFault, ToxicSettings
from chaosbench.chaos.faults.base import register


class LatencySettings(ToxicSettings):
    latency_ms: int = Field(ge=0, le=600_000)
    jitter_ms: int = Field(default=0, ge=0, le=600_000)


@register
class Latency(ToxicFault[LatencySettings]):
    type_name = "latency"
    toxic_type = "latency"
    Settings = LatencySettings

    def attributes(self) -> dict[str, Any]:
        return {
            "latency": round(self.settings.latency_ms * self.intensity),
            "jitter": round(self.settings.jitter_ms * self.intensity),
        }
