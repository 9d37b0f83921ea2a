"""ws_delay: a share (``rate``) of the server's WebSocket messages is held ``delay_ms``
(± ``jitter_ms``) before it is passed on.

Extension toxic of the embedded proxy, on a route with ``protocol: http``. Intensity scales
``delay_ms`` and ``jitter_ms``. Seeds: WebSocket lag and jitter.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from chaosbench.chaos.faults._toxic import RouteSettings, ToxicFault, seed_from
from chaosbench.chaos.faults.base import register


class WsDelaySettings(RouteSettings):
    delay_ms: int = Field(ge=0, le=600_000)
    jitter_ms: int = Field(default=0, ge=0, le=600_000)
    rate: float = Field(default=1.0, ge=0.0, le=1.0)


@register
class WsDelay(ToxicFault[WsDelaySettings]):
    type_name = "ws_delay"
    toxic_type = "ws_delay"
    Settings = WsDelaySettings
    protocols: ClassVar[tuple[str, ...]] = ("http",)

    def attributes(self) -> dict[str, Any]:
        s = self.settings
        return {
            "delay_ms": round(s.delay_ms * self.intensity),
            "jitter_ms": round(s.jitter_ms * self.intensity),
            "rate": s.rate,
            "seed": seed_from(self),
        }
