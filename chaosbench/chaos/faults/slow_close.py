"""slow_close: closing a connection is delayed by ``delay_ms`` (Toxiproxy ``slow_close``).

Intensity scales the toxicity (share of connections). Seeds: lingering half-closed connections.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from chaosbench.chaos.faults._toxic import ToxicFault, ToxicSettings
from chaosbench.chaos.faults.base import register


class SlowCloseSettings(ToxicSettings):
    delay_ms: int = Field(ge=0)


@register
class SlowClose(ToxicFault[SlowCloseSettings]):
    type_name = "slow_close"
    toxic_type = "slow_close"
    Settings = SlowCloseSettings

    def attributes(self) -> dict[str, Any]:
        return {"delay": self.settings.delay_ms}

    def toxicity(self) -> float:
        return self.settings.toxicity * self.intensity
