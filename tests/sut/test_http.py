"""HTTP/1.1 details of the SUT's server, on raw sockets: HEAD, pipelining, 100-continue, limits."""

from __future__ import annotations

import socket

from tests.sut.conftest import SutInstance


def exchange(sut: SutInstance, data: bytes, until: bytes, limit: int = 1 << 20) -> bytes:
    """Send ``data``; read until ``until`` has been seen (or the server closes)."""
    with socket.create_connection(("127.0.0.1", sut.port), timeout=10) as s:
        s.sendall(data)
        out = b""
        while until not in out and len(out) < limit:
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
        return out


def test_head_has_headers_and_no_body(sut: SutInstance) -> None:
    out = exchange(
        sut, b"HEAD /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", b"\r\n\r\n"
    )
    head, _, rest = out.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200") and b"content-length: " in head
    assert rest == b""


def test_pipelined_requests_are_answered_in_order(sut: SutInstance) -> None:
    req = b"GET /health HTTP/1.1\r\nHost: x\r\n\r\nGET /api/orders/nope HTTP/1.1\r\nHost: x\r\n\r\n"
    out = exchange(sut, req, b'"order_id"}')
    first, second = out.index(b"HTTP/1.1 200"), out.index(b"HTTP/1.1 404")
    assert first < second


def test_expect_100_continue(sut: SutInstance) -> None:
    body = b'{"symbol":"BTCUSD","side":"buy","quantity":1,"price":1,"client_order_id":"c100"}'
    with socket.create_connection(("127.0.0.1", sut.port), timeout=10) as s:
        s.sendall(
            b"POST /api/orders HTTP/1.1\r\nHost: x\r\nX-Client-Id: c100\r\n"
            b"Content-Type: application/json\r\nExpect: 100-continue\r\n"
            b"Content-Length: %d\r\n\r\n" % len(body)
        )
        assert s.recv(100).startswith(b"HTTP/1.1 100 Continue")
        s.sendall(body)
        assert s.recv(1000).startswith(b"HTTP/1.1 201")


def test_garbage_and_oversized_requests_get_400_or_413(sut: SutInstance) -> None:
    assert exchange(sut, b"GARBAGE\r\n\r\n", b"}").startswith(b"HTTP/1.1 400")
    huge_header = b"GET /health HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 40000
    assert exchange(sut, huge_header, b"}").startswith(b"HTTP/1.1 400")
    body = b"a" * 70000
    big = b"POST /api/orders HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body)
    out = exchange(sut, big + body, b"}")
    assert out.startswith(b"HTTP/1.1 413") and b"body larger than" in out
