"""The FeedUser connects a ``ws://`` URL to an IP address itself (no proxy lookup, no resolver
round trip), and leaves everything else to websocket-client."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from chaosbench.users.websocket_user import direct_socket


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(8)
    yield srv
    srv.close()


def test_ip_address_is_connected_directly(listener: socket.socket, monkeypatch) -> None:
    for key in ("http_proxy", "HTTP_PROXY"):
        monkeypatch.delenv(key, raising=False)
    port = listener.getsockname()[1]
    sock = direct_socket(f"ws://127.0.0.1:{port}/ws/feed?since=3", timeout=5.0)
    assert sock is not None
    try:
        peer, _ = listener.accept()
        assert peer.getpeername() == sock.getsockname()
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
        assert sock.gettimeout() == 5.0
        peer.close()
    finally:
        sock.close()


@pytest.mark.parametrize(
    "url", ["ws://localhost:9/ws", "wss://127.0.0.1:9/ws", "http://127.0.0.1:9/"]
)
def test_names_tls_and_other_schemes_are_left_to_websocket_client(url: str) -> None:
    assert direct_socket(url, timeout=1.0) is None


def test_a_proxy_in_the_environment_is_left_to_websocket_client(monkeypatch) -> None:
    monkeypatch.setenv("http_proxy", "http://127.0.0.1:3128")
    assert direct_socket("ws://127.0.0.1:9/ws", timeout=1.0) is None


def test_refused_connection_raises(monkeypatch) -> None:
    monkeypatch.delenv("http_proxy", raising=False)
    monkeypatch.delenv("HTTP_PROXY", raising=False)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, not listening: refused
        with pytest.raises(ConnectionRefusedError):
            direct_socket(f"ws://127.0.0.1:{port}/ws", timeout=2.0)
