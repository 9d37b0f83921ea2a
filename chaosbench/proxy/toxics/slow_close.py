"""slow_close: when the source closes its side, the close is passed on ``delay`` ms later."""

from __future__ import annotations

from chaosbench.proxy.toxics import register
from chaosbench.proxy.toxics.base import TcpState, TcpToxic, ToxicAttributes


class SlowCloseAttributes(ToxicAttributes):
    delay: int = 0


class SlowCloseState(TcpState):
    def on_eof(self) -> None:
        a = self.toxic.attributes
        assert isinstance(a, SlowCloseAttributes)
        self.toxic.wait(a.delay / 1000.0)


@register
class SlowClose(TcpToxic):
    type_name = "slow_close"
    Attributes = SlowCloseAttributes
    State = SlowCloseState
