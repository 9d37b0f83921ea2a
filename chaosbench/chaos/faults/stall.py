"""stall: data stops flowing on a route (Toxiproxy ``timeout``); with ``timeout_ms`` > 0 the
connection is closed after that long, with 0 it hangs until the fault is reverted.

Intensity scales the toxicity (share of connections stalled). Seeds: API timeouts, packet loss as
TCP sees it (retransmission stalls), half-open connections.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from chaosbench.chaos.faults._toxic import ToxicFault, ToxicSettings
from chaosbench.chaos.faults.base import register


class StallSettings(ToxicSettings):
    timeout_ms: int = Field(default=0, ge=0)


@register
class Stall(ToxicFault[StallSettings]):
    type_name = "stall"
    toxic_type = "timeout"
    Settings = StallSettings

    def attributes(self) -> dict[str, Any]:
        return {"timeout": self.settings.timeout_ms}

    def toxicity(self) -> float:
        return self.settings.toxicity * self.intensity
