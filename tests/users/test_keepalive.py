"""An ApiUser keeps its keep-alive connection when its socket's number is above 1023
(geventhttpclient's own check, select(2), fails there and reconnects every request)."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench.outside import NGINX_CONF, ensure_nginx, free_port, port_open
from tests.users.conftest import run_script


@pytest.fixture
def nginx(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    conf = tmp_path / "nginx.conf"
    conf.write_text(NGINX_CONF.format(prefix=tmp_path, port=port))
    proc = subprocess.Popen(
        [ensure_nginx(), "-p", str(tmp_path), "-c", str(conf)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 15
        while not port_open(port):
            assert proc.poll() is None, f"nginx exited {proc.returncode}"
            assert time.monotonic() < deadline, "nginx did not listen within 15 s"
            time.sleep(0.05)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)


def test_api_user_reuses_its_connection_above_descriptor_1023(nginx: str) -> None:
    r = run_script("keepalive_fds", nginx)
    if "skip" in r:
        pytest.skip(r["skip"])
    assert r["lowest_free"] > 1023
    api, plain = r["api"], r["plain"]
    assert api["statuses"] == [200] and plain["statuses"] == [200]
    assert all(fd > 1023 for fd in api["fds"] + plain["fds"])
    # 30 requests, one connection (closed at the end)
    assert api["connections"] == 1, api
    # geventhttpclient's own check reconnects each request there: what the ApiUser avoids
    assert plain["connections"] >= 25, plain
    assert r["shared_pool_kept"], "a pool shared through client_pool is left as given"


def test_socket_alive_tells_idle_from_closed_or_dirty() -> None:
    import socket

    from chaosbench.users.keepalive import socket_alive

    a, b = socket.socketpair()
    try:
        assert socket_alive(a), "idle: alive"
        b.send(b"x")
        assert not socket_alive(a), "stray bytes on an idle connection: not reusable"
        a.recv(1)
        assert socket_alive(a)
        b.close()
        assert not socket_alive(a), "the peer's FIN: dead"
    finally:
        a.close()
    assert not socket_alive(a), "closed here (fileno -1): dead"
    assert not socket_alive(None)
