"""reset_peer: connections are reset (TCP RST) after ``timeout_ms`` (Toxiproxy ``reset_peer``).

Intensity scales the toxicity (share of connections reset). Seeds: transient connection loss,
WebSocket disconnects.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from chaosbench.chaos.faults._toxic import ToxicFault, ToxicSettings
from chaosbench.chaos.faults.base import register


class ResetPeerSettings(ToxicSettings):
    timeout_ms: int = Field(default=0, ge=0)


@register
class ResetPeer(ToxicFault[ResetPeerSettings]):
    type_name = "reset_peer"
    toxic_type = "reset_peer"
    Settings = ResetPeerSettings

    def attributes(self) -> dict[str, Any]:
        return {"timeout": self.settings.timeout_ms}

    def toxicity(self) -> float:
        return self.settings.toxicity * self.intensity
