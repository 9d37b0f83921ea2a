"""reset_peer: on the first data after it takes effect, wait ``timeout`` ms, then reset the
connection (TCP RST: SO_LINGER 0). ``timeout: 0`` resets at once. The data is not passed on."""

from __future__ import annotations

from chaosbench.proxy.toxics import register
from chaosbench.proxy.toxics.base import CloseLink, Out, TcpState, TcpToxic, ToxicAttributes


class ResetPeerAttributes(ToxicAttributes):
    timeout: int = 0


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
