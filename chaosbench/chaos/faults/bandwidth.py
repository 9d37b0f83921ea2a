"""bandwidth: limit a route to ``kb_per_s`` kilobytes per second (Toxiproxy ``bandwidth``).

Intensity scales the toxicity (share of connections limited). Seeds: slow network.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from chaosbench.chaos.faults._toxic import ToxicFault, ToxicSettings
from chaosbench.chaos.faults.base import register


class BandwidthSettings(ToxicSettings):
    kb_per_s: int = Field(ge=0)


@register
class Bandwidth(ToxicFault[BandwidthSettings]):
    type_name = "bandwidth"
    toxic_type = "bandwidth"
    Settings = BandwidthSettings

    def attributes(self) -> dict[str, Any]:
        return {"rate": self.settings.kb_per_s}

    def toxicity(self) -> float:
        return self.settings.toxicity * self.intensity
