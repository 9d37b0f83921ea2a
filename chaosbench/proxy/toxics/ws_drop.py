"""ws_drop (extension): a share ``rate`` of the server's data messages is never delivered.

Profile fault ``ws_drop`` (``rate``; needs a ``protocol: http`` route, WebSocket upgrades pass
through it): intensity scales ``rate``. Seeds: WebSocket message loss, gaps the client must
fill by resuming.
"""

from __future__ import annotations

from typing import Any

from chaosbench.proxy.toxics import register
from chaosbench.proxy.toxics.base import MsgOut, RateAttributes, WsMessage, WsState, WsToxic
from chaosbench.proxy.toxics.profile import RateSettings


class WsDropSettings(RateSettings):
    def attributes(self, intensity: float) -> dict[str, Any]:
        return {"rate": self.rate * intensity}


class WsDropState(WsState):
    def process(self, msg: WsMessage, out: MsgOut) -> None:
        a = self.toxic.attributes
        assert isinstance(a, RateAttributes)
        if self.toxic.removed.is_set() or not self.toxic.chance(a.rate):
            out(msg)


@register
class WsDrop(WsToxic):
    type_name = "ws_drop"
    Attributes = RateAttributes
    State = WsDropState
    profile_name = "ws_drop"
    Profile = WsDropSettings
