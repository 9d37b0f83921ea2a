"""Reusable helpers for tests that need the reference system (other test areas import these).

    base_url = start_sut(spawn, port, pg_dsn, redis_url, schema, prefix, extra_args)
    drop_schema(pg_dsn, schema); delete_prefix(redis_url, prefix)

``spawn`` is the ``spawn`` fixture of tests/conftest.py (or any callable with its signature).
"""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from typing import Any

import psycopg
import redis

from tests.conftest import PYTHON, Proc, free_port, wait_until


def sut_args(
    port: int, pg_dsn: str, redis_url: str, schema: str, prefix: str, extra: Sequence[str] = ()
) -> list[str]:
    return [
        PYTHON,
        "-m",
        "chaosbench.sut",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--pg-dsn",
        pg_dsn,
        "--pg-schema",
        schema,
        "--redis-url",
        redis_url,
        "--redis-prefix",
        prefix,
        *extra,
    ]


def start_sut(
    spawn: Callable[..., Proc],
    port: int,
    pg_dsn: str,
    redis_url: str,
    schema: str,
    prefix: str,
    extra_args: Sequence[str] = (),
    healthy: bool = True,
    timeout: float = 30.0,
) -> str:
    """Start ``python -m chaosbench.sut`` and wait until it answers /health (200 if ``healthy``)."""
    proc = spawn(sut_args(port, pg_dsn, redis_url, schema, prefix, extra_args), name="sut")
    base_url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        if proc.popen.poll() is not None:
            raise AssertionError(f"sut exited with {proc.popen.returncode}:\n{proc.output()}")
        status, _ = http("GET", base_url + "/health", timeout=2.0)
        return status == 200 or not healthy

    try:
        wait_until(up, timeout=timeout, interval=0.1)
    except AssertionError as exc:
        raise AssertionError(f"{exc}\nsut output:\n{proc.output()}") from None
    return base_url


def http(
    method: str,
    url: str,
    body: object = None,
    headers: dict[str, str] | None = None,
    timeout: float = 10.0,
    raw: bytes | None = None,
) -> tuple[int, Any]:
    """One request on a fresh connection; returns (status, parsed JSON body or text)."""
    status, _, data = http_full(method, url, body, headers, timeout, raw)
    return status, data


def http_full(
    method: str,
    url: str,
    body: object = None,
    headers: dict[str, str] | None = None,
    timeout: float = 10.0,
    raw: bytes | None = None,
) -> tuple[int, dict[str, str], Any]:
    data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            status, hdrs, payload = resp.status, dict(resp.headers), resp.read()
    except urllib.error.HTTPError as err:
        status, hdrs, payload = err.code, dict(err.headers), err.read()
    hdrs = {k.lower(): v for k, v in hdrs.items()}
    try:
        return status, hdrs, json.loads(payload)
    except ValueError:
        return status, hdrs, payload.decode(errors="replace")


def drop_schema(pg_dsn: str, schema: str) -> None:
    with psycopg.connect(pg_dsn, autocommit=True, connect_timeout=5) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def delete_prefix(redis_url: str, prefix: str) -> None:
    r = redis.Redis.from_url(redis_url, socket_timeout=5)
    try:
        keys = list(r.scan_iter(match=prefix + "*", count=1000))
        for i in range(0, len(keys), 500):
            r.delete(*keys[i : i + 500])
    finally:
        r.close()


class TcpRelay:
    """A TCP relay in front of a server, switchable at run time (threads, loopback only).

    forward   relay bytes both ways (the server looks normal)
    down      nothing listens (connection refused) and live connections are cut
    blackhole connections are accepted but nothing moves either way (a hung server)
    """

    def __init__(self, upstream_port: int, upstream_host: str = "127.0.0.1") -> None:
        self.upstream = (upstream_host, upstream_port)
        self.port = free_port()
        self.mode = "forward"
        self._lock = threading.Lock()
        self._socks: list[socket.socket] = []
        self._listener: socket.socket | None = None
        self._closed = False
        self._listen()

    def _listen(self) -> None:
        ls = socket.socket()
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind(("127.0.0.1", self.port))
        ls.listen(128)
        ls.settimeout(0.1)
        self._listener = ls
        threading.Thread(target=self._accept, args=(ls,), daemon=True).start()

    def _accept(self, ls: socket.socket) -> None:
        while self._listener is ls:
            try:
                client, _ = ls.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self._track(client)
            if self.mode == "blackhole":
                continue  # held open, never answered
            try:
                upstream = socket.create_connection(self.upstream, timeout=5)
            except OSError:
                client.close()
                continue
            self._track(upstream)
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _track(self, s: socket.socket) -> None:
        with self._lock:
            self._socks.append(s)

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        try:
            src.settimeout(0.1)
            while True:
                if self.mode == "blackhole":
                    time.sleep(0.05)
                    continue
                try:
                    data = src.recv(65536)
                except TimeoutError:
                    continue
                if not data:
                    break
                while self.mode == "blackhole":  # hung: hold the bytes, answer nothing
                    time.sleep(0.05)
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def _cut_all(self) -> None:
        with self._lock:
            socks, self._socks = self._socks, []
        for s in socks:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def set_mode(self, mode: str) -> None:
        assert mode in ("forward", "down", "blackhole")
        previous, self.mode = self.mode, mode
        if mode == "down":
            ls, self._listener = self._listener, None
            if ls is not None:
                ls.close()
            self._cut_all()
        elif self._listener is None and not self._closed:
            self._listen()
        if previous == "blackhole" and mode == "forward":
            self._cut_all()  # held connections never got an upstream: drop them

    def close(self) -> None:
        self._closed = True
        self.set_mode("down")
