"""ws_drop: a share (``rate``) of the server's WebSocket messages is dropped.

Extension toxic of the embedded proxy, on a route with ``protocol: http`` (WebSocket upgrades
pass through it). Intensity scales ``rate``. Seeds: WebSocket message loss, gaps the client
must fill by resuming.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from chaosbench.chaos.faults._toxic import RouteSettings, ToxicFault, seed_from
from chaosbench.chaos.faults.base import register


class WsDropSettings(RouteSettings):
    rate: float = Field(default=1.0, ge=0.0, le=1.0)


@register
class WsDrop(ToxicFault[WsDropSettings]):
    type_name = "ws_drop"
    toxic_type = "ws_drop"
    Settings = WsDropSettings
    protocols: ClassVar[tuple[str, ...]] = ("http",)

    def attributes(self) -> dict[str, Any]:
        return {"rate": self.settings.rate * self.intensity, "seed": seed_from(self)}
