"""slicer: chunks are cut into pieces of ``average_size`` ± ``size_variation`` bytes, written
``delay`` µs apart (TCP segmentation that parsers must cope with).

Profile fault ``slicer`` (``average_size``, ``size_variation``, ``delay_us``, ``stream``,
``toxicity``): intensity scales the toxicity (share of connections sliced). Seeds: slow
network, partial reads.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field

from chaosbench.proxy.toxics import register
from chaosbench.proxy.toxics.base import Out, TcpState, TcpToxic, ToxicAttributes
from chaosbench.proxy.toxics.profile import ToxicSettings


class SlicerAttributes(ToxicAttributes):
    average_size: int = 0
    size_variation: int = 0
    delay: int = 0


class SlicerSettings(ToxicSettings):
    average_size: int = Field(default=64, ge=1)
    size_variation: int = Field(default=32, ge=0)
    delay_us: int = Field(default=1000, ge=0)

    def attributes(self, intensity: float) -> dict[str, Any]:
        return {
            "average_size": self.average_size,
            "size_variation": min(self.size_variation, self.average_size - 1),
            "delay": self.delay_us,
        }


class SlicerState(TcpState):
    def process(self, data: bytes, t: float, out: Out) -> None:
        a = self.toxic.attributes
        assert isinstance(a, SlicerAttributes)
        if a.average_size <= 0:
            out(data, t)
            return
        rng = self.toxic.rng
        i = 0
        while i < len(data):
            size = a.average_size
            if a.size_variation > 0:
                size += rng.randint(-a.size_variation, a.size_variation)
            size = max(1, size)
            out(data[i : i + size], t)
            i += size
            if i < len(data) and a.delay > 0 and self.toxic.wait(a.delay / 1e6):
                out(data[i:], t)  # removed: the rest in one piece
                return


@register
class Slicer(TcpToxic):
    type_name = "slicer"
    Attributes = SlicerAttributes
    State = SlicerState
    profile_name = "slicer"
    Profile = SlicerSettings
