"""ws_corrupt (extension): a share ``rate`` of the server's data messages is mangled. A text
message is cut in half and given a garbage tail (still UTF-8, no longer valid JSON); a binary
message gets bytes flipped.

Profile fault ``ws_corrupt`` (``rate``; needs a ``protocol: http`` route): intensity scales
``rate``. Seeds: corrupted frames, parser robustness.
"""

from __future__ import annotations

from typing import Any

from chaosbench.proxy.toxics import register
from chaosbench.proxy.toxics.base import MsgOut, RateAttributes, WsMessage, WsState, WsToxic
from chaosbench.proxy.toxics.profile import RateSettings
from chaosbench.proxy.wsframes import OP_TEXT, encode_frame

GARBAGE = "\u0000<corrupted by chaosbench>\u007f{"


def corrupt(msg: WsMessage, flip_at: int) -> WsMessage:
    if msg.opcode == OP_TEXT:
        text = msg.payload.decode("utf-8", "replace")
        payload = (text[: len(text) // 2] + GARBAGE).encode()
    else:
        buf = bytearray(msg.payload or b"\x00")
        for i in range(flip_at % len(buf), len(buf), 7):
            buf[i] ^= 0xFF
        payload = bytes(buf)
    raw = encode_frame(msg.opcode, payload, rsv=msg.rsv)
    return WsMessage(msg.opcode, raw, payload, msg.rsv, msg.t)


class WsCorruptSettings(RateSettings):
    def attributes(self, intensity: float) -> dict[str, Any]:
        return {"rate": self.rate * intensity}


class WsCorruptState(WsState):
    def process(self, msg: WsMessage, out: MsgOut) -> None:
        a = self.toxic.attributes
        assert isinstance(a, RateAttributes)
        if not self.toxic.removed.is_set() and self.toxic.chance(a.rate):
            msg = corrupt(msg, self.toxic.rng.randrange(1 << 16))
        out(msg)


@register
class WsCorrupt(WsToxic):
    type_name = "ws_corrupt"
    Attributes = RateAttributes
    State = WsCorruptState
    profile_name = "ws_corrupt"
    Profile = WsCorruptSettings
