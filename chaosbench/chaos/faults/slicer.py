"""slicer: data is cut into small pieces with a delay between them (Toxiproxy ``slicer``).

Intensity scales the toxicity (share of connections sliced). Seeds: slow network, partial reads.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from chaosbench.chaos.faults._toxic import ToxicFault, ToxicSettings
from chaosbench.chaos.faults.base import register


class SlicerSettings(ToxicSettings):
    average_size: int = Field(default=64, ge=1)
    size_variation: int = Field(default=32, ge=0)
    delay_us: int = Field(default=1000, ge=0)


@register
class Slicer(ToxicFault[SlicerSettings]):
    type_name = "slicer"
    toxic_type = "slicer"
    Settings = SlicerSettings

    def attributes(self) -> dict[str, Any]:
        s = self.settings
        return {
            "average_size": s.average_size,
            "size_variation": min(s.size_variation, s.average_size - 1),
            "delay": s.delay_us,
        }

    def toxicity(self) -> float:
        return self.settings.toxicity * self.intensity
