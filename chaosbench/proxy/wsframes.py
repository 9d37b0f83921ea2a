"""A small incremental WebSocket frame parser (RFC 6455) for server-to-client traffic.

Frames are kept as their original bytes so that an untouched message is relayed bit for bit;
only a mangled message is re-encoded. Fragmented messages are assembled into one ``WsMessage``;
control frames (close, ping, pong) are messages of their own and are never touched by toxics.
"""

from __future__ import annotations

import struct

from chaosbench.proxy.toxics.base import WsMessage

OP_CONT, OP_TEXT, OP_BINARY, OP_CLOSE, OP_PING, OP_PONG = 0x0, 0x1, 0x2, 0x8, 0x9, 0xA


def encode_frame(opcode: int, payload: bytes, rsv: int = 0, fin: bool = True) -> bytes:
    """An unmasked frame (server to client)."""
    b0 = (0x80 if fin else 0) | (rsv & 0x70) | (opcode & 0x0F)
    n = len(payload)
    if n < 126:
        head = struct.pack("!BB", b0, n)
    elif n < 1 << 16:
        head = struct.pack("!BBH", b0, 126, n)
    else:
        head = struct.pack("!BBQ", b0, 127, n)
    return head + payload


def _unmask(payload: bytes, key: bytes) -> bytes:
    if not payload:
        return payload
    k = (key * (len(payload) // 4 + 1))[: len(payload)]
    return (int.from_bytes(payload, "big") ^ int.from_bytes(k, "big")).to_bytes(len(payload), "big")


class MessageParser:
    """Feed bytes in, get complete messages out (with the monotonic time of their first byte)."""

    def __init__(self) -> None:
        self._buf = bytearray()
        self._t_first = 0.0
        # a fragmented data message being assembled: opcode, rsv, raw parts, payload parts, t
        self._frag: tuple[int, int, list[bytes], list[bytes], float] | None = None

    def feed(self, data: bytes, t: float) -> list[WsMessage]:
        if not self._buf:
            self._t_first = t
        self._buf += data
        out: list[WsMessage] = []
        while True:
            frame = self._next_frame()
            if frame is None:
                break
            fin, rsv, opcode, raw, payload = frame
            t0 = self._t_first
            self._t_first = t
            if opcode >= 0x8:
                out.append(WsMessage(opcode, raw, payload, rsv, t0))
            elif opcode != OP_CONT:
                if fin:
                    out.append(WsMessage(opcode, raw, payload, rsv, t0))
                else:
                    self._frag = (opcode, rsv, [raw], [payload], t0)
            elif self._frag is not None:
                op, frsv, raws, payloads, tf = self._frag
                raws.append(raw)
                payloads.append(payload)
                if fin:
                    self._frag = None
                    out.append(WsMessage(op, b"".join(raws), b"".join(payloads), frsv, tf))
            else:  # a stray continuation: pass it on as it is
                out.append(WsMessage(OP_CONT, raw, payload, rsv, t0))
        return out

    def _next_frame(self) -> tuple[bool, int, int, bytes, bytes] | None:
        buf = self._buf
        if len(buf) < 2:
            return None
        b0, b1 = buf[0], buf[1]
        n = b1 & 0x7F
        pos = 2
        if n == 126:
            if len(buf) < 4:
                return None
            n = struct.unpack_from("!H", buf, 2)[0]
            pos = 4
        elif n == 127:
            if len(buf) < 10:
                return None
            n = struct.unpack_from("!Q", buf, 2)[0]
            pos = 10
        key = b""
        if b1 & 0x80:
            if len(buf) < pos + 4:
                return None
            key = bytes(buf[pos : pos + 4])
            pos += 4
        end = pos + n
        if len(buf) < end:
            return None
        raw = bytes(buf[:end])
        payload = raw[pos:]
        if key:
            payload = _unmask(payload, key)
        del buf[:end]
        return bool(b0 & 0x80), b0 & 0x70, b0 & 0x0F, raw, payload
