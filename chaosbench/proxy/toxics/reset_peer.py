"""reset_peer: on the first data after it takes effect, wait ``timeout`` ms, then reset the
connection (TCP RST: SO_LINGER 0). ``timeout: 0`` resets at once. The data is not passed on.

Profile fault ``reset_peer`` (``timeout_ms``, ``stream``, ``toxicity``): intensity scales the
toxicity (share of connections reset). Seeds: transient connection loss, WebSocket disconnects.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from chaosbench.proxy.toxics import register
from chaosbench.proxy.toxics.base import CloseLink, Out, TcpState, TcpToxic, ToxicAttributes
from chaosbench.proxy.toxics.profile import ToxicSettings


class ResetPeerAttributes(ToxicAttributes):
    timeout: int = 0


class ResetPeerSettings(ToxicSettings):
    timeout_ms: int = Field(default=0, ge=0)

    def attributes(self, intensity: float) -> dict[str, Any]:
        return {"timeout": self.timeout_ms}


class ResetPeerState(TcpState):
    def process(self, data: bytes, t: float, out: Out) -> None:
        a = self.toxic.attributes
        assert isinstance(a, ResetPeerAttributes)
        if self.toxic.wait(a.timeout / 1000.0):
            out(data, t)  # removed meanwhile: nothing happens
            return
        raise CloseLink(reset=True)


@register
class ResetPeer(TcpToxic):
    type_name = "reset_peer"
    Attributes = ResetPeerAttributes
    State = ResetPeerState
    profile_name = "reset_peer"
    Profile = ResetPeerSettings
