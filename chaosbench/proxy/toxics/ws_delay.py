"""ws_delay (extension): a share ``rate`` of the server's data messages is held ``delay_ms``
(± ``jitter_ms``) after it arrived. Later messages wait behind it (one TCP stream).

Profile fault ``ws_delay`` (``delay_ms``, ``jitter_ms``, ``rate``; needs a ``protocol: http``
route): intensity scales ``delay_ms`` and ``jitter_ms``. Seeds: WebSocket lag and jitter.
"""

from __future__ import annotations

from chaosbench.proxy.toxics import register
from chaosbench.proxy.toxics.base import MsgOut, RateAttributes, WsMessage, WsState, WsToxic
from chaosbench.proxy.toxics.profile import DelaySettings


class WsDelayAttributes(RateAttributes):
    delay_ms: float = 0.0
    jitter_ms: float = 0.0


class WsDelayState(WsState):
    def process(self, msg: WsMessage, out: MsgOut) -> None:
        a = self.toxic.attributes
        assert isinstance(a, WsDelayAttributes)
        if self.toxic.chance(a.rate):
            delay = a.delay_ms
            if a.jitter_ms > 0:
                delay += self.toxic.rng.uniform(-a.jitter_ms, a.jitter_ms)
            self.toxic.wait_until(msg.t + max(0.0, delay) / 1000.0)
        out(msg)


@register
class WsDelay(WsToxic):
    type_name = "ws_delay"
    Attributes = WsDelayAttributes
    State = WsDelayState
    profile_name = "ws_delay"
    Profile = DelaySettings
