"""limit_data: a connection is closed after ``bytes`` bytes (Toxiproxy ``limit_data``).

Intensity scales the toxicity (share of connections limited). Seeds: connections dropped mid-stream.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from chaosbench.chaos.faults._toxic import ToxicFault, ToxicSettings
from chaosbench.chaos.faults.base import register


class LimitDataSettings(ToxicSettings):
    bytes: int = Field(ge=0)


@register
class LimitData(ToxicFault[LimitDataSettings]):
    type_name = "limit_data"
    toxic_type = "limit_data"
    Settings = LimitDataSettings

    def attributes(self) -> dict[str, Any]:
        return {"bytes": self.settings.bytes}

    def toxicity(self) -> float:
        return self.settings.toxicity * self.intensity
