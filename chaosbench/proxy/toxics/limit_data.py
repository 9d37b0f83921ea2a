"""limit_data: the connection is closed once ``bytes`` bytes have gone through this direction
(counted from when the toxic took effect on the connection)."""

from __future__ import annotations

from chaosbench.proxy.toxics import register
from chaosbench.proxy.toxics.base import CloseLink, Out, TcpState, TcpToxic, ToxicAttributes


class LimitDataAttributes(ToxicAttributes):
    bytes: int = 0


class LimitDataState(TcpState):
    sent = 0

    def process(self, data: bytes, t: float, out: Out) -> None:
        a = self.toxic.attributes
        assert isinstance(a, LimitDataAttributes)
        if self.toxic.removed.is_set():
            out(data, t)
            return
        remaining = max(0, a.bytes - self.sent)
        part = data[:remaining]
        if part:
            out(part, t)
            self.sent += len(part)
        if self.sent >= a.bytes:
            raise CloseLink()


@register
class LimitData(TcpToxic):
    type_name = "limit_data"
    Attributes = LimitDataAttributes
    State = LimitDataState
