"""slicer: chunks are cut into pieces of ``average_size`` ± ``size_variation`` bytes, written
``delay`` µs apart (TCP segmentation that parsers must cope with)."""

from __future__ import annotations

from chaosbench.proxy.toxics import register
from chaosbench.proxy.toxics.base import Out, TcpState, TcpToxic, ToxicAttributes


class SlicerAttributes(ToxicAttributes):
    average_size: int = 0
    size_variation: int = 0
    delay: int = 0


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
