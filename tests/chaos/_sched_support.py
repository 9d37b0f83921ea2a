"""Helpers of the scheduler/proxy-fault/plugin tests: real traffic through the embedded proxy."""

from __future__ import annotations

import socket
import statistics
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest

from chaosbench.proxy import EmbeddedProxy, ToxiproxyClient
from tests.conftest import free_port

REDIS = ("127.0.0.1", 6379)


@dataclass
class Sample:
    wall: float  # time.time() at the start of the request
    latency: float  # seconds
    ok: bool


def redis_ping(sock: socket.socket) -> None:
    sock.sendall(b"PING\r\n")
    data = b""
    while not data.endswith(b"\r\n"):
        chunk = sock.recv(64)
        if not chunk:
            raise ConnectionError("closed")
        data += chunk
    if data != b"+PONG\r\n":
        raise ConnectionError(f"unexpected answer {data!r}")


def ping_once(port: int, timeout: float = 3.0) -> float:
    """One Redis PING on a fresh connection through ``port``; seconds it took (send to answer)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        redis_ping(sock)  # connection set-up and first chunk
        t0 = time.perf_counter()
        redis_ping(sock)
        return time.perf_counter() - t0


def median_ping(port: int, n: int = 15) -> float:
    with socket.create_connection(("127.0.0.1", port), timeout=5.0) as sock:
        redis_ping(sock)
        times = []
        for _ in range(n):
            t0 = time.perf_counter()
            redis_ping(sock)
            times.append(time.perf_counter() - t0)
    return statistics.median(times)


@dataclass
class Traffic:
    """Redis PINGs through a proxied route from a thread, one persistent connection, bounded."""

    port: int
    interval: float = 0.01
    max_seconds: float = 60.0
    samples: list[Sample] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> Traffic:
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        sock: socket.socket | None = None
        end = time.monotonic() + self.max_seconds
        while not self._stop.is_set() and time.monotonic() < end:
            wall, t0 = time.time(), time.perf_counter()
            try:
                if sock is None:
                    sock = socket.create_connection(("127.0.0.1", self.port), timeout=3.0)
                redis_ping(sock)
                ok = True
            except OSError:
                ok = False
                if sock is not None:
                    sock.close()
                sock = None
            self.samples.append(Sample(wall, time.perf_counter() - t0, ok))
            time.sleep(self.interval)
        if sock is not None:
            sock.close()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)

    def between(self, start: float, end: float) -> list[Sample]:
        return [s for s in self.samples if start <= s.wall < end]


def median_latency(samples: list[Sample]) -> float:
    ok = [s.latency for s in samples if s.ok]
    assert ok, "no successful samples in the window"
    return statistics.median(ok)


@pytest.fixture
def proxy() -> Iterator[EmbeddedProxy]:
    p = EmbeddedProxy(f"127.0.0.1:{free_port()}").start()
    try:
        yield p
    finally:
        p.stop()


def toxics_left(url: str) -> dict[str, list[str]]:
    """Toxics on every proxy, and routes that are down, as the API shows them."""
    out: dict[str, list[str]] = {}
    for name, info in ToxiproxyClient(url).proxies().items():
        left = [t.name for t in info.toxics]
        if not info.enabled:
            left.append("<disabled>")
        if left:
            out[name] = left
    return out
