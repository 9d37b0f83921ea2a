"""limit_data: the connection is closed once ``bytes`` bytes have gone through this direction
(counted from when the toxic took effect on the connection).

Profile fault ``limit_data`` (``bytes``, ``stream``, ``toxicity``): intensity scales the
toxicity (share of connections limited). Seeds: connections dropped mid-stream.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from chaosbench.proxy.toxics import register
from chaosbench.proxy.toxics.base import CloseLink, Out, TcpState, TcpToxic, ToxicAttributes
from chaosbench.proxy.toxics.profile import ToxicSettings


class LimitDataAttributes(ToxicAttributes):
    bytes: int = 0


class LimitDataSettings(ToxicSettings):
    bytes: int = Field(ge=0)

    def attributes(self, intensity: float) -> dict[str, Any]:
        return {"bytes": self.bytes}


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
    profile_name = "limit_data"
    Profile = LimitDataSettings
