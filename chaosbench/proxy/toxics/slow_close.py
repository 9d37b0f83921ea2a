"""slow_close: when the source closes its side, the close is passed on ``delay`` ms later.

Profile fault ``slow_close`` (``delay_ms``, ``stream``, ``toxicity``): intensity scales the
toxicity (share of connections). Seeds: lingering half-closed connections.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from chaosbench.proxy.toxics import register
from chaosbench.proxy.toxics.base import TcpState, TcpToxic, ToxicAttributes
from chaosbench.proxy.toxics.profile import ToxicSettings


class SlowCloseAttributes(ToxicAttributes):
    delay: int = 0


class SlowCloseSettings(ToxicSettings):
    delay_ms: int = Field(ge=0)

    def attributes(self, intensity: float) -> dict[str, Any]:
        return {"delay": self.delay_ms}


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
    profile_name = "slow_close"
    Profile = SlowCloseSettings
