"""bandwidth: at most ``rate`` KB/s (1 KB = 1000 bytes), written in pieces of 100 ms worth.

Profile fault ``bandwidth`` (``kb_per_s``, ``stream``, ``toxicity``): intensity scales the
toxicity (share of connections limited). Seeds: slow network.
"""

from __future__ import annotations

import time
from typing import Any

from pydantic import Field

from chaosbench.proxy.toxics import register
from chaosbench.proxy.toxics.base import Out, TcpState, TcpToxic, ToxicAttributes
from chaosbench.proxy.toxics.profile import ToxicSettings


class BandwidthAttributes(ToxicAttributes):
    rate: int = 0


class BandwidthSettings(ToxicSettings):
    kb_per_s: int = Field(ge=0)

    def attributes(self, intensity: float) -> dict[str, Any]:
        return {"rate": self.kb_per_s}


class BandwidthState(TcpState):
    _next = 0.0

    def process(self, data: bytes, t: float, out: Out) -> None:
        a = self.toxic.attributes
        assert isinstance(a, BandwidthAttributes)
        if a.rate <= 0:  # Toxiproxy: rate 0 means no limit
            out(data, t)
            return
        per_sec = a.rate * 1000.0
        piece = max(1, int(per_sec / 10))
        self._next = max(self._next, time.monotonic())
        for i in range(0, len(data), piece):
            part = data[i : i + piece]
            self._next += len(part) / per_sec
            if self.toxic.wait_until(self._next):
                out(data[i:], t)  # removed while waiting: the rest goes through unthrottled
                return
            out(part, t)


@register
class Bandwidth(TcpToxic):
    type_name = "bandwidth"
    Attributes = BandwidthAttributes
    State = BandwidthState
    profile_name = "bandwidth"
    Profile = BandwidthSettings
