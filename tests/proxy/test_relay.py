"""The TCP relay's fast paths carry every byte in order: bulk data (spliced through a pipe in the
kernel), a destination that reads slowly (bytes left in the pipe or in the rest of a partial
send), a toxic that comes and goes in the middle of a stream, and the close after bulk data."""

from __future__ import annotations

import hashlib
import os
import socket
import threading
import time

import pytest

from chaosbench.proxy import EmbeddedProxy, ToxiproxyClient
from chaosbench.proxy.reader import HAS_SPLICE, Reader
from tests.conftest import wait_until
from tests.proxy.conftest import connect, recv_exactly
from tests.proxy.servers import TcpServer

MB = 1 << 20


def readers(embedded: EmbeddedProxy, name: str) -> list[Reader]:
    return [r for link in embedded.collection.proxies[name].links for r in link.readers]


class Drain:
    """Reads ``s`` to EOF (or ``n`` bytes) in a thread, optionally slowly; the bytes' digest."""

    def __init__(self, s: socket.socket, n: int | None = None, pause: float = 0.0) -> None:
        self.s, self.n, self.pause = s, n, pause
        self.digest = hashlib.sha256()
        self.count = 0
        self.error: BaseException | None = None
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        try:
            while self.n is None or self.count < self.n:
                data = self.s.recv(16384 if self.n is None else min(16384, self.n - self.count))
                if not data:
                    return
                self.digest.update(data)
                self.count += len(data)
                if self.pause:
                    time.sleep(self.pause)
        except BaseException as exc:
            self.error = exc

    def join(self, timeout: float = 60.0) -> None:
        self.thread.join(timeout)
        assert not self.thread.is_alive(), f"reader still running after {self.count} bytes"
        assert self.error is None, self.error


def pattern(n: int) -> bytes:
    """Bytes whose order matters (a counter), so that a reordering or a loss changes the digest."""
    return b"".join(i.to_bytes(4, "big") for i in range(n // 4))


@pytest.mark.parametrize("pause", [0.0, 0.002], ids=["fast-reader", "slow-reader"])
def test_bulk_both_ways_intact(
    embedded: EmbeddedProxy, client: ToxiproxyClient, echo_server: TcpServer, pause: float
) -> None:
    info = client.create_proxy("bulk", "127.0.0.1:0", echo_server.addr)
    payload = pattern(8 * MB)
    s = connect(info.listen, timeout=30)
    drain = Drain(s, len(payload), pause)
    s.sendall(payload)
    drain.join()
    assert drain.count == len(payload)
    assert drain.digest.digest() == hashlib.sha256(payload).digest()
    if HAS_SPLICE:  # bulk went through the kernel's pipe, not through Python
        spliced = sum(r.spliced for r in readers(embedded, "bulk"))
        assert spliced > len(payload), spliced  # both directions: up to the echo and back
    # small messages on the same connection after the bulk still arrive whole, in order
    for i in range(50):
        s.sendall(b"ping%03d" % i)
        assert recv_exactly(s, 7) == b"ping%03d" % i
    s.close()


def test_toxic_in_the_middle_of_a_stream_keeps_the_order(
    client: ToxiproxyClient, echo_server: TcpServer
) -> None:
    info = client.create_proxy("bulk", "127.0.0.1:0", echo_server.addr)
    payload = pattern(12 * MB)
    s = connect(info.listen, timeout=30)
    drain = Drain(s, len(payload), pause=0.0005)
    sender_done = threading.Event()

    def send() -> None:
        s.sendall(payload)
        sender_done.set()

    threading.Thread(target=send, daemon=True).start()
    wait_until(lambda: drain.count > 2 * MB, timeout=30)
    client.add_toxic("bulk", "latency", {"latency": 1}, stream="downstream", name="lat")
    client.add_toxic("bulk", "slicer", {"average_size": 3000}, stream="upstream", name="sl")
    assert drain.count < len(payload)  # the toxics came in the middle of the stream
    wait_until(lambda: drain.count > 5 * MB, timeout=30)
    client.remove_toxic("bulk", "lat")
    client.remove_toxic("bulk", "sl")
    drain.join()
    assert sender_done.wait(10)
    assert drain.count == len(payload)
    assert drain.digest.digest() == hashlib.sha256(payload).digest()
    s.close()


def test_close_after_bulk_delivers_everything_then_eof(
    embedded: EmbeddedProxy, client: ToxiproxyClient
) -> None:
    payload = os.urandom(6 * MB)

    def send_and_close(conn: socket.socket) -> None:
        conn.sendall(payload)
        conn.shutdown(socket.SHUT_WR)

    server = TcpServer(send_and_close)
    try:
        info = client.create_proxy("src", "127.0.0.1:0", server.addr)
        s = connect(info.listen, timeout=30)
        drain = Drain(s, None, pause=0.001)  # slow at first: the pipe fills, then drains
        drain.join()
        assert drain.count == len(payload)
        assert drain.digest.digest() == hashlib.sha256(payload).digest()
        s.close()
        wait_until(lambda: not embedded.collection.proxies["src"].links, timeout=10)
    finally:
        server.close()
