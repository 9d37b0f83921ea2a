"""ws_reorder: a share (``rate``) of the server's WebSocket messages is held back and passed on
out of order, within a window of ``window`` messages.

Extension toxic of the embedded proxy, on a route with ``protocol: http``. Intensity scales
``rate``. Seeds: out-of-order delivery the client must detect by sequence number.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from chaosbench.chaos.faults._toxic import RouteSettings, ToxicFault, seed_from
from chaosbench.chaos.faults.base import register


class WsReorderSettings(RouteSettings):
    rate: float = Field(default=1.0, ge=0.0, le=1.0)
    window: int = Field(default=4, ge=2, le=1000)


@register
class WsReorder(ToxicFault[WsReorderSettings]):
    type_name = "ws_reorder"
    toxic_type = "ws_reorder"
    Settings = WsReorderSettings
    protocols: ClassVar[tuple[str, ...]] = ("http",)

    def attributes(self) -> dict[str, Any]:
        return {
            "rate": self.settings.rate * self.intensity,
            "window": self.settings.window,
            "seed": seed_from(self),
        }
