"""The FeedUser's FrameReader on a real socket pair: frames split over reads and many in one
read, 16- and 64-bit lengths, fragments with a ping between them, a masked frame, and the frames
the protocol forbids."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from websocket import ABNF

from chaosbench.users.websocket_user import FrameError, FrameReader


def frame(
    payload: bytes, opcode: int = ABNF.OPCODE_TEXT, fin: bool = True, mask: bool = False
) -> bytes:
    f = ABNF(fin=int(fin), opcode=opcode, mask_value=int(mask), data=payload)
    return bytes(f.format())


@pytest.fixture
def pair() -> Iterator[tuple[socket.socket, FrameReader]]:
    a, b = socket.socketpair()
    b.settimeout(2)
    yield a, FrameReader(b, chunk=7)  # a small chunk: most frames arrive over several reads
    a.close()
    b.close()


def test_frames_split_over_reads_and_many_in_one(pair: tuple[socket.socket, FrameReader]) -> None:
    a, reader = pair
    big, huge = b"x" * 300, b"y" * 70_000  # 16-bit and 64-bit lengths
    a.sendall(frame(b'{"seq":1}') + frame(big) + frame(huge, ABNF.OPCODE_BINARY) + frame(b"z"))
    got = [reader.next() for _ in range(4)]
    assert got == [
        (ABNF.OPCODE_TEXT, b'{"seq":1}'),
        (ABNF.OPCODE_TEXT, big),
        (ABNF.OPCODE_BINARY, huge),
        (ABNF.OPCODE_TEXT, b"z"),
    ]


def test_fragments_are_joined_and_a_ping_between_them_comes_first(
    pair: tuple[socket.socket, FrameReader],
) -> None:
    a, reader = pair
    a.sendall(
        frame(b"hel", fin=False)
        + frame(b"", ABNF.OPCODE_PING)
        + frame(b"lo", ABNF.OPCODE_CONT)
        + frame(b"masked", mask=True)
        + frame(b"", ABNF.OPCODE_CLOSE)
    )
    assert reader.next() == (ABNF.OPCODE_PING, b"")
    assert reader.next() == (ABNF.OPCODE_TEXT, b"hello")
    assert reader.next() == (ABNF.OPCODE_TEXT, b"masked")
    assert reader.next() == (ABNF.OPCODE_CLOSE, b"")


@pytest.mark.parametrize(
    "wire",
    [
        bytes([0x80 | 0x40 | 0x1, 0]),  # RSV1 without an extension
        bytes([0x80 | 0x3, 0]),  # an unknown opcode
        frame(b"p" * 126, ABNF.OPCODE_PING),  # a control frame over 125 bytes
        frame(b"more", ABNF.OPCODE_CONT),  # a continuation of nothing
    ],
)
def test_a_forbidden_frame_is_an_error(
    pair: tuple[socket.socket, FrameReader], wire: bytes
) -> None:
    a, reader = pair
    a.sendall(wire)
    with pytest.raises(FrameError):
        reader.next()


def test_a_closed_socket_and_a_silent_one(pair: tuple[socket.socket, FrameReader]) -> None:
    a, reader = pair
    reader.sock.settimeout(0.05)
    with pytest.raises(TimeoutError):
        reader.next()
    a.sendall(frame(b"last")[:3])  # half a frame, then the peer goes
    a.shutdown(socket.SHUT_WR)
    with pytest.raises(ConnectionError):
        reader.next()
