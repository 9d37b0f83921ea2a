"""ws_drop (extension): a share ``rate`` of the server's data messages is never delivered."""

from __future__ import annotations

from chaosbench.proxy.toxics import register
from chaosbench.proxy.toxics.base import MsgOut, RateAttributes, WsMessage, WsState, WsToxic


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
