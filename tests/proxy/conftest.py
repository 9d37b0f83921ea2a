"""Fixtures: an embedded proxy (own thread and hub) and real upstream servers on loopback."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from chaosbench.proxy import EmbeddedProxy, ToxiproxyClient
from tests.proxy.servers import HttpServer, TcpServer, echo, ws_feed


@pytest.fixture
def embedded() -> Iterator[EmbeddedProxy]:
    proxy = EmbeddedProxy("127.0.0.1:0").start()
    yield proxy
    proxy.stop()


@pytest.fixture
def client(embedded: EmbeddedProxy) -> ToxiproxyClient:
    return embedded.client()


@pytest.fixture
def echo_server() -> Iterator[TcpServer]:
    srv = TcpServer(echo)
    yield srv
    srv.close()


@pytest.fixture
def http_server() -> Iterator[HttpServer]:
    srv = HttpServer()
    yield srv
    srv.close()


@pytest.fixture
def ws_server() -> Iterator[TcpServer]:
    srv = TcpServer(ws_feed)
    yield srv
    srv.close()


def port_of(listen: str) -> int:
    return int(listen.rsplit(":", 1)[1])


def connect(listen: str, timeout: float = 5.0) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", port_of(listen)), timeout=timeout)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def recv_exactly(s: socket.socket, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        data = s.recv(n - len(buf))
        if not data:
            break
        buf += data
    return buf
