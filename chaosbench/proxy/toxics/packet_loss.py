"""packet_loss (extension): packet loss as a TCP connection lives it, without root or netem.

A chunk (one read from the source: a request, a reply, part of a stream) is "lost" with
probability ``loss`` and is then delivered only when TCP would retransmit it: after ``rto`` ms
(200, Linux's minimum RTO), and if the retransmission is lost too (probability ``loss`` again)
after twice that, doubling on each consecutive loss of the same chunk up to ``max_rto`` ms.
Nothing is dropped and nothing is reordered: later chunks of the direction wait behind the
lost one (one TCP stream, head-of-line blocking). After ``max_retries`` retransmissions of one
chunk are lost, TCP gives up and the connection is closed. Removing the toxic delivers a held
chunk at once.

Profile fault ``packet_loss`` (``loss``, ``rto_ms``, ``max_rto_ms``, ``stream``, ``toxicity``):
intensity scales ``loss``. Seeds: packet loss of 5 / 20 / 50 %, data loss and latency tails
with packet loss.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from pydantic import Field, model_validator

from chaosbench.proxy.toxics import register
from chaosbench.proxy.toxics.base import CloseLink, Out, TcpState, TcpToxic, ToxicAttributes
from chaosbench.proxy.toxics.profile import ToxicSettings

#: Linux's ``tcp_retries2``: retransmissions of one segment before the connection is dropped.
MAX_RETRIES = 15


class PacketLossAttributes(ToxicAttributes):
    loss: float = Field(default=0.0, ge=0.0, le=1.0)
    rto: int = Field(default=200, ge=1, le=60_000)
    max_rto: int = Field(default=3200, ge=1, le=120_000)
    max_retries: int = Field(default=MAX_RETRIES, ge=0, le=100)


def retransmission_waits(
    lost: Callable[[], bool], rto: int, max_rto: int, max_retries: int
) -> list[int]:
    """The timeouts (ms) one chunk waits: one per consecutive loss (the first transmission
    and each retransmission are ``lost()`` or not), doubling from ``rto``, capped at
    ``max_rto``. More than ``max_retries`` entries: every retransmission was lost (TCP gives
    up after the last timeout)."""
    waits: list[int] = []
    timeout = rto
    for _ in range(max_retries + 1):
        if not lost():
            break
        waits.append(timeout)
        timeout = min(timeout * 2, max(rto, max_rto))
    return waits


class PacketLossState(TcpState):
    def process(self, data: bytes, t: float, out: Out) -> None:
        a = self.toxic.attributes
        assert isinstance(a, PacketLossAttributes)
        toxic = self.toxic
        if toxic.removed.is_set() or a.loss <= 0.0:
            out(data, t)
            return
        waits = retransmission_waits(lambda: toxic.chance(a.loss), a.rto, a.max_rto, a.max_retries)
        if waits and toxic.wait_until(t + sum(waits) / 1000.0):
            out(data, t)  # removed while held: delivered at once
            return
        if len(waits) > a.max_retries:
            raise CloseLink()
        out(data, t)


class PacketLossSettings(ToxicSettings):
    scale_toxicity: ClassVar[bool] = False

    loss: float = Field(ge=0.0, le=1.0)
    rto_ms: int = Field(default=200, ge=1, le=60_000)
    max_rto_ms: int = Field(default=3200, ge=1, le=120_000)

    @model_validator(mode="after")
    def _cap_not_below_rto(self) -> PacketLossSettings:
        if self.max_rto_ms < self.rto_ms:
            raise ValueError(f"max_rto_ms {self.max_rto_ms} is less than rto_ms {self.rto_ms}")
        return self

    def attributes(self, intensity: float) -> dict[str, Any]:
        return {"loss": self.loss * intensity, "rto": self.rto_ms, "max_rto": self.max_rto_ms}


@register
class PacketLoss(TcpToxic):
    type_name = "packet_loss"
    Attributes = PacketLossAttributes
    State = PacketLossState
    extension = True  # a TCP toxic, but a real Toxiproxy does not have it
    profile_name = "packet_loss"
    Profile = PacketLossSettings
