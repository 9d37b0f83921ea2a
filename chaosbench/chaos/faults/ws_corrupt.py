"""ws_corrupt: a share (``rate``) of the server's WebSocket messages is mangled (no longer
valid JSON).

Extension toxic of the embedded proxy, on a route with ``protocol: http`` (WebSocket upgrades
pass through it). Intensity scales ``rate``. Seeds: corrupted frames, parser robustness.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from chaosbench.chaos.faults._toxic import RouteSettings, ToxicFault, seed_from
from chaosbench.chaos.faults.base import register


class WsCorruptSettings(RouteSettings):
    rate: float = Field(default=1.0, ge=0.0, le=1.0)


@register
class WsCorrupt(ToxicFault[WsCorruptSettings]):
    type_name = "ws_corrupt"
    toxic_type = "ws_corrupt"
    Settings = WsCorruptSettings
    protocols: ClassVar[tuple[str, ...]] = ("http",)

    def attributes(self) -> dict[str, Any]:
        return {"rate": self.settings.rate * self.intensity, "seed": seed_from(self)}
