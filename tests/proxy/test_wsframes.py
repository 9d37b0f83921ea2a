"""The WebSocket frame parser against frames written by wsproto (an independent implementation):
lengths of 7, 16 and 64 bits, fragmented messages, interleaved control frames, masked frames,
any split of the byte stream; and the corruption of binary messages."""

from __future__ import annotations

import json

import wsproto.events as wse
from wsproto.connection import Connection, ConnectionType
from wsproto.frame_protocol import Opcode

from chaosbench.proxy.toxics.ws_corrupt import corrupt
from chaosbench.proxy.wsframes import OP_BINARY, OP_PING, OP_TEXT, MessageParser


def server_stream() -> tuple[bytes, list[tuple[int, bytes]]]:
    conn = Connection(ConnectionType.SERVER)
    out = b""
    expect: list[tuple[int, bytes]] = []
    for text in ("a", "é" * 100, "x" * 70_000):  # 7-, 16- and 64-bit lengths
        out += conn.send(wse.TextMessage(text))
        expect.append((OP_TEXT, text.encode()))
    out += conn.send(wse.BytesMessage(b"\x00\x01", message_finished=False))
    out += conn.send(wse.Ping(b"p"))  # a control frame inside a fragmented message
    expect.append((OP_PING, b"p"))
    out += conn.send(wse.BytesMessage(b"\x02", message_finished=True))
    expect.append((OP_BINARY, b"\x00\x01\x02"))
    return out, expect


def parse(stream: bytes, step: int) -> list[tuple[int, bytes, bytes]]:
    p = MessageParser()
    got = []
    for i in range(0, len(stream), step):
        got += [(m.opcode, m.payload, m.raw) for m in p.feed(stream[i : i + step], 0.0)]
    return got


def test_parser_matches_wsproto_for_any_split() -> None:
    stream, expect = server_stream()
    for step in (1, 3, 125, 4096, len(stream)):
        got = parse(stream, step)
        assert [(op, payload) for op, payload, _ in got] == expect
        assert sum(len(raw) for _, _, raw in got) == len(stream)  # every byte relayed once


def test_masked_client_frames_are_unmasked() -> None:
    frame = Connection(ConnectionType.CLIENT).send(wse.TextMessage('{"k": 1}'))
    assert frame[1] & 0x80  # masked, as a client must
    [msg] = MessageParser().feed(frame, 0.0)
    assert msg.opcode == OP_TEXT and json.loads(msg.payload) == {"k": 1}


def test_corrupted_messages_still_parse_as_frames() -> None:
    p = MessageParser()
    stream, _ = server_stream()
    msgs = p.feed(stream, 0.0)
    text = msgs[0]
    bad = corrupt(text, 3)
    [again] = MessageParser().feed(bad.raw, 0.0)
    assert again.opcode == OP_TEXT and again.payload == bad.payload
    bad.payload.decode("utf-8")  # still UTF-8, so a client does not drop the connection
    binary = next(m for m in msgs if m.opcode == OP_BINARY)
    flipped = corrupt(binary, 1)
    assert flipped.payload != binary.payload and len(flipped.payload) == len(binary.payload)
    assert MessageParser().feed(flipped.raw, 0.0)[0].payload == flipped.payload
    assert Opcode.BINARY.value == OP_BINARY
