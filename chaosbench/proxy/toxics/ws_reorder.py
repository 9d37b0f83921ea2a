"""ws_reorder (extension): a share ``rate`` of the server's data messages is held back and
delivered after the next ``window`` messages (or after ``max_hold_ms`` of silence).

Profile fault ``ws_reorder`` (``rate``, ``window``; needs a ``protocol: http`` route):
intensity scales ``rate``. Seeds: out-of-order delivery the client must detect by sequence
number.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from chaosbench.proxy.toxics import register
from chaosbench.proxy.toxics.base import MsgOut, RateAttributes, WsMessage, WsState, WsToxic
from chaosbench.proxy.toxics.profile import RateSettings


class WsReorderAttributes(RateAttributes):
    window: int = 1
    max_hold_ms: float = 1000.0


class WsReorderSettings(RateSettings):
    window: int = Field(default=4, ge=2, le=1000)

    def attributes(self, intensity: float) -> dict[str, Any]:
        return {"rate": self.rate * intensity, "window": self.window}


class WsReorderState(WsState):
    held: WsMessage | None = None
    passed = 0

    def process(self, msg: WsMessage, out: MsgOut) -> None:
        a = self.toxic.attributes
        assert isinstance(a, WsReorderAttributes)
        if self.held is None:
            if not self.toxic.removed.is_set() and self.toxic.chance(a.rate):
                self.held, self.passed = msg, 0
            else:
                out(msg)
            return
        out(msg)
        self.passed += 1
        if self.passed >= max(1, a.window):
            self.flush(out)

    def tick(self, now: float, out: MsgOut) -> None:
        a = self.toxic.attributes
        assert isinstance(a, WsReorderAttributes)
        if self.held is not None and now - self.held.t >= a.max_hold_ms / 1000.0:
            self.flush(out)

    def flush(self, out: MsgOut) -> None:
        held, self.held = self.held, None
        if held is not None:
            out(held)


@register
class WsReorder(WsToxic):
    type_name = "ws_reorder"
    Attributes = WsReorderAttributes
    State = WsReorderState
    profile_name = "ws_reorder"
    Profile = WsReorderSettings
