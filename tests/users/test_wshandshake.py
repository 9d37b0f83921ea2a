"""The FeedUser's own WebSocket opening handshake (chaosbench.users.wshandshake) on real
loopback sockets: against the tests' wsproto feed server, the first frames sent in the same
segment as the 101 kept for the frame reader, and every bad answer one error of one line,
within the timeout."""

from __future__ import annotations

import base64
import json
import socket
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import gevent
import pytest
import websocket
from websocket import ABNF

from chaosbench.users.websocket_user import FrameReader, open_connection
from chaosbench.users.wshandshake import (
    MAX_HEAD,
    HandshakeError,
    HandshakeStatusError,
    HandshakeTimeout,
    accept_key,
    handshake,
    host_header,
)
from tests.users.feedserver import FeedServer

#: what a scripted server sends for the client's Sec-WebSocket-Key
Answer = Callable[[bytes], bytes]


def frame(payload: bytes, opcode: int = ABNF.OPCODE_TEXT) -> bytes:
    return bytes(ABNF(fin=1, opcode=opcode, mask_value=0, data=payload).format())


def accepted(key: bytes, *headers: bytes) -> bytes:
    return (
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Accept: " + accept_key(key).encode() + b"\r\n" + b"".join(headers) + b"\r\n"
    )


@dataclass
class Scripted:
    """One connection's worth of server: reads the request head, sends ``answer(key)``, then
    closes (``close``) or holds the connection open and silent."""

    answer: Answer
    close: bool = False
    trickle: float = 0.0  # > 0: the answer one byte at a time, this many seconds apart
    delay: float = 0.0  # seconds before the answer
    requests: list[bytes] = field(default_factory=list)
    eof_after: list[float] = field(default_factory=list)  # the client closed, s after accept

    def __post_init__(self) -> None:
        self.listener = socket.socket()
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(8)
        self.port = self.listener.getsockname()[1]
        self.greenlet = gevent.spawn(self._serve)

    def url(self, path: str = "/ws/feed") -> str:
        return f"ws://127.0.0.1:{self.port}{path}"

    def _serve(self) -> None:
        conn, _ = self.listener.accept()
        t0 = time.monotonic()
        with conn:
            head = b""
            while b"\r\n\r\n" not in head:
                data = conn.recv(4096)
                if not data:
                    self.eof_after.append(time.monotonic() - t0)
                    return
                head += data
            self.requests.append(head)
            key = next(
                line.split(b":", 1)[1].strip()
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"sec-websocket-key:")
            )
            out = self.answer(key)
            gevent.sleep(self.delay)
            if self.trickle:
                for i in range(len(out)):
                    conn.sendall(out[i : i + 1])
                    gevent.sleep(self.trickle)
            else:
                conn.sendall(out)
            if self.close:
                return
            while conn.recv(4096):  # silent until the client goes
                pass
            self.eof_after.append(time.monotonic() - t0)

    def stop(self) -> None:
        self.greenlet.kill()
        self.listener.close()


@pytest.fixture
def serve() -> Iterator[Callable[..., Scripted]]:
    servers: list[Scripted] = []

    def start(answer: Answer, **kw: Any) -> Scripted:
        servers.append(Scripted(answer, **kw))
        return servers[-1]

    yield start
    for s in servers:
        s.stop()


def client(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=5.0)


def test_against_the_wsproto_feed_server() -> None:
    server = FeedServer(rate=200).start()
    try:
        with client(server.port) as sock:
            rest = handshake(sock, server.url + "?since=0", timeout=5.0)
            sock.settimeout(5.0)
            opcode, payload = FrameReader(sock, initial=rest).next()
        assert opcode == ABNF.OPCODE_TEXT
        assert json.loads(payload)["type"] == "quote"
        assert server.connections == 1
    finally:
        server.stop()


def test_the_request_and_the_frames_in_the_same_segment_as_the_101(
    serve: Callable[..., Scripted],
) -> None:
    # the 101, a message and the close frame in one send, then the connection closed: a reader
    # that lost what came with the 101 would find only the end of the stream
    first = frame(b'{"seq":1}')
    bye = frame(b"\x03\xe8", ABNF.OPCODE_CLOSE)
    srv = serve(lambda key: accepted(key) + first + bye, close=True)
    with client(srv.port) as sock:
        rest = handshake(sock, srv.url("/ws/feed?since=3"), 5.0, [("X-Test", "1")])
        reader = FrameReader(sock, initial=rest)
        assert reader.next() == (ABNF.OPCODE_TEXT, b'{"seq":1}')
        assert reader.next() == (ABNF.OPCODE_CLOSE, b"\x03\xe8")
    request, *fields = srv.requests[0].decode().split("\r\n\r\n")[0].split("\r\n")
    assert request == "GET /ws/feed?since=3 HTTP/1.1"
    headers = dict(f.split(": ", 1) for f in fields)
    assert headers["Host"] == f"127.0.0.1:{srv.port}"
    assert headers["Origin"] == f"http://127.0.0.1:{srv.port}"
    assert headers["Upgrade"] == "websocket" and headers["Connection"] == "Upgrade"
    assert headers["Sec-WebSocket-Version"] == "13" and headers["X-Test"] == "1"
    assert len(base64.b64decode(headers["Sec-WebSocket-Key"], validate=True)) == 16


def test_a_fresh_key_each_time_and_a_lenient_but_valid_answer(
    serve: Callable[..., Scripted],
) -> None:
    # header names and tokens in any case, lists, bare LF line ends: all RFC-valid
    def answer(key: bytes) -> bytes:
        return (
            b"HTTP/1.1 101 Switching Protocols\nUPGRADE: WebSocket\n"
            b"connection: keep-alive, Upgrade\nsec-websocket-accept: "
            + accept_key(key).encode()
            + b"\n\n"
        )

    servers = [serve(answer), serve(answer)]
    for srv in servers:
        with client(srv.port) as sock:
            assert handshake(sock, srv.url(), 5.0) == b""
    keys = [s.requests[0].split(b"Sec-WebSocket-Key: ")[1].split(b"\r\n")[0] for s in servers]
    assert keys[0] != keys[1]


def test_host_header() -> None:
    assert host_header("127.0.0.1", 80) == "127.0.0.1"
    assert host_header("127.0.0.1", None) == "127.0.0.1"
    assert host_header("::1", 8080) == "[::1]:8080"


def _refused(_key: bytes) -> bytes:
    return b"HTTP/1.1 403 Forbidden\r\nContent-Length: 2\r\n\r\nno"


BAD: dict[str, tuple[Answer, str]] = {
    "no Sec-WebSocket-Accept": (
        lambda key: accepted(key).replace(b"Sec-WebSocket-Accept", b"X-Accept"),
        "101 without Sec-WebSocket-Accept",
    ),
    "a wrong Sec-WebSocket-Accept": (
        lambda key: accepted(b"dGhlIHNhbXBsZSBub25jZQ=="),
        "101 with a wrong Sec-WebSocket-Accept ('s3pPLMBiTxaQ9kYGzzhZRbK+xOo=')",
    ),
    "no Upgrade": (
        lambda key: accepted(key).replace(b"Upgrade: websocket\r\n", b""),
        "101 without Upgrade: websocket (Upgrade: None)",
    ),
    "Upgrade: h2c": (
        lambda key: accepted(key).replace(b"Upgrade: websocket", b"Upgrade: h2c"),
        "101 without Upgrade: websocket (Upgrade: 'h2c')",
    ),
    "Connection: keep-alive": (
        lambda key: accepted(key).replace(b"Connection: Upgrade", b"Connection: keep-alive"),
        "101 without Connection: upgrade (Connection: 'keep-alive')",
    ),
    "an extension not asked for": (
        lambda key: accepted(key, b"Sec-WebSocket-Extensions: permessage-deflate\r\n"),
        "101 with an extension not asked for: 'permessage-deflate'",
    ),
    "not HTTP": (lambda key: b"SSH-2.0-OpenSSH_9.6\r\n\r\n", "not an HTTP/1.1 status line"),
    "a header line without a colon": (
        lambda key: accepted(key, b"garbage\r\n"),
        "not an HTTP header line: 'garbage'",
    ),
}


@pytest.mark.parametrize("case", list(BAD))
def test_a_bad_answer_is_one_handshake_error(serve: Callable[..., Scripted], case: str) -> None:
    answer, message = BAD[case]
    srv = serve(answer)
    with client(srv.port) as sock, pytest.raises(HandshakeError) as err:
        handshake(sock, srv.url(), 5.0)
    assert message in str(err.value) and "\n" not in str(err.value)
    assert isinstance(err.value, websocket.WebSocketException)
    assert not isinstance(err.value, HandshakeStatusError)


def test_a_refusal_is_a_bad_status_with_its_reason(serve: Callable[..., Scripted]) -> None:
    srv = serve(_refused)
    with client(srv.port) as sock, pytest.raises(HandshakeStatusError) as err:
        handshake(sock, srv.url(), 5.0)
    assert str(err.value) == "WebSocket upgrade refused: HTTP 403 Forbidden"
    assert isinstance(err.value, websocket.WebSocketBadStatusException)
    assert err.value.status_code == 403 and err.value.status_message == "Forbidden"
    assert err.value.resp_headers == {"content-length": "2"}


def test_a_head_over_the_cap_fails_at_once(serve: Callable[..., Scripted]) -> None:
    srv = serve(lambda key: b"HTTP/1.1 101 Switching Protocols\r\nX-Pad: " + b"a" * 2 * MAX_HEAD)
    t0 = time.monotonic()
    with client(srv.port) as sock, pytest.raises(HandshakeError) as err:
        handshake(sock, srv.url(), 5.0)
    assert str(err.value) == f"the WebSocket upgrade answer's head is over {MAX_HEAD} bytes"
    assert time.monotonic() - t0 < 2.0  # the cap, not the timeout


def test_the_server_closing_mid_head(serve: Callable[..., Scripted]) -> None:
    srv = serve(lambda key: b"HTTP/1.1 101 Swi", close=True)
    with client(srv.port) as sock, pytest.raises(HandshakeError) as err:
        handshake(sock, srv.url(), 5.0)
    assert str(err.value) == (
        "the server closed the connection during the WebSocket upgrade answer (16 bytes of it)"
    )


SLOW: dict[str, tuple[Answer, dict[str, float], str]] = {
    "silent": (lambda key: b"", {}, "(0 bytes of it)"),
    # a byte now and then: each recv within its own timeout, the whole answer not in time
    "a byte per 50 ms": (lambda key: accepted(key) * 10, {"trickle": 0.05}, "bytes of it)"),
    # a part after 0.3 s, then nothing: the wait for the rest is what remained of the timeout
    "a part, then silent": (lambda key: b"HTTP/1.1 101", {"delay": 0.3}, "(12 bytes of it)"),
}


@pytest.mark.parametrize("case", list(SLOW))
def test_no_complete_answer_times_out_within_the_timeout(
    serve: Callable[..., Scripted], case: str
) -> None:
    answer, kw, tail = SLOW[case]
    srv = serve(answer, **kw)
    t0 = time.monotonic()
    with client(srv.port) as sock, pytest.raises(HandshakeTimeout) as err:
        handshake(sock, srv.url(), 0.6)
    elapsed = time.monotonic() - t0
    assert 0.55 <= elapsed < 0.85, elapsed  # one timeout for the whole answer, not per recv
    assert str(err.value).startswith("no complete answer to the WebSocket upgrade within 0.6 s")
    assert str(err.value).endswith(tail)
    assert isinstance(err.value, websocket.WebSocketTimeoutException)


def test_a_user_killed_during_the_handshake_leaves_no_socket_open(
    serve: Callable[..., Scripted],
) -> None:
    srv = serve(lambda key: b"")  # never answers
    g = gevent.spawn(open_connection, srv.url(), 5.0)
    gevent.sleep(0.2)  # inside the handshake, waiting for the answer
    g.kill(block=True, timeout=2)
    assert g.dead and isinstance(g.value, gevent.GreenletExit)
    gevent.sleep(0.2)
    assert srv.eof_after and srv.eof_after[0] < 1.0  # the server saw the socket closed


def test_the_user_keeps_what_came_with_the_101(script: Callable[..., dict[str, Any]]) -> None:
    out = script("ws_own_handshake")
    assert out["feed"] == {"ok": True, "first": [ABNF.OPCODE_TEXT, "quote"], "own_handshake": True}
    # a host name: websocket-client's connect as before, its reader starting empty
    assert out["named"] == {
        "ok": True,
        "first": [ABNF.OPCODE_TEXT, "quote"],
        "own_handshake": False,
    }
    assert out["subscribed"] == [[ABNF.OPCODE_TEXT, '{"op": "subscribe"}']] * 2
    cycle = out["cycle"]
    # the server's close frame came with the 101: found at once, not after the 1 s close timeout
    assert cycle["ok"] is True and cycle["seconds"] < 0.5, cycle
    assert cycle["client_sent"] == [ABNF.OPCODE_CLOSE]
    assert out["failures"] == []
