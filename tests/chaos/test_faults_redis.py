"""Redis faults against the real, shared server: effect, then everything as it was.

Victims are named with the test's key prefix; the pause lasts under a second and the memory
pressure window is kept short (noeviction: other users' writes fail briefly, no key is evicted),
with the original settings restored in a ``finally``.
"""

from __future__ import annotations

import random
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from chaosbench.chaos.faults import FaultContext, catalogue
from chaosbench.chaos.faults.base import Fault
from chaosbench.chaos.ledger import Ledger


def make(
    type_name: str, intensity: float = 1.0, ledger: Ledger | None = None, **settings: Any
) -> Fault[Any]:
    cls = catalogue()[type_name]
    ctx = FaultContext(rng=random.Random(3), ledger=ledger)
    return cls(f"t-{type_name}", cls.Settings(**settings), ctx, intensity)


class RawClient:
    """A bare RESP connection: sees exactly when the server closes it (no auto-reconnect)."""

    def __init__(self, name: str) -> None:
        self.sock = socket.create_connection(("127.0.0.1", 6379), timeout=2)
        host, port = self.sock.getsockname()[:2]
        self.addr = f"{host}:{port}"
        assert self.call("CLIENT", "SETNAME", name) == b"+OK\r\n"

    def call(self, *args: str) -> bytes:
        cmd = f"*{len(args)}\r\n" + "".join(f"${len(a)}\r\n{a}\r\n" for a in args)
        self.sock.sendall(cmd.encode())
        return self.sock.recv(4096)

    def closed_by_server(self) -> bool:
        self.sock.settimeout(2)
        try:
            return self.sock.recv(1) == b""
        except ConnectionResetError:
            return True

    def close(self) -> None:
        self.sock.close()


@pytest.fixture
def raw(key_prefix: str) -> Iterator[Callable[[str], RawClient]]:
    opened: list[RawClient] = []

    def _open(suffix: str) -> RawClient:
        c = RawClient(f"{key_prefix}-{suffix}")
        opened.append(c)
        return c

    yield _open
    for c in opened:
        c.close()


@pytest.fixture
def r(redis_url: str) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_url, client_name="cbt-test", socket_timeout=5)
    yield client
    client.close()


def names(r: redis.Redis) -> list[str]:
    return [str(c.get("name")) for c in r.client_list(_type="normal")]


# -- redis_client_kill --------------------------------------------------------------------------
def test_kill_by_name_spares_bystanders(
    redis_url: str, key_prefix: str, raw: Callable[[str], RawClient], r: redis.Redis
) -> None:
    victims = [raw("victim") for _ in range(3)]
    bystander = raw("bystander")
    fault = make("redis_client_kill", url=redis_url, client_name=f"{key_prefix}-victim")
    assert fault.targets() == ["127.0.0.1:6379"]
    fault.inject()
    fault.revert()
    assert fault.describe()["killed"] == 3
    assert all(v.closed_by_server() for v in victims)
    assert bystander.call("PING") == b"+PONG\r\n"
    assert f"{key_prefix}-victim" not in names(r)


def test_kill_by_address_and_share(
    redis_url: str, key_prefix: str, raw: Callable[[str], RawClient]
) -> None:
    one, two = raw("a"), raw("a")
    fault = make("redis_client_kill", url=redis_url, addr=one.addr)
    fault.inject()
    assert one.closed_by_server()
    assert two.call("PING") == b"+PONG\r\n"
    many = [raw("b") for _ in range(4)]
    half = make("redis_client_kill", 0.5, url=redis_url, client_name=f"{key_prefix}-b")
    half.inject()
    assert half.describe()["killed"] == 2
    assert sum(c.call("PING") == b"+PONG\r\n" for c in many) == 2


def test_kill_filters_by_database(redis_url: str, key_prefix: str, raw: Callable[..., Any]) -> None:
    in_db, other = raw("db"), raw("db")
    assert in_db.call("SELECT", "9") == b"+OK\r\n"
    fault = make("redis_client_kill", url=redis_url, client_name=f"{key_prefix}-db", db=9)
    fault.inject()
    assert in_db.closed_by_server()
    assert other.call("PING") == b"+PONG\r\n"


# -- redis_client_pause -------------------------------------------------------------------------
def test_pause_all_answers_nothing_then_recovers(redis_url: str, key_prefix: str) -> None:
    probe = redis.Redis.from_url(redis_url, socket_timeout=0.15, client_name=key_prefix)
    probe.ping()
    fault = make("redis_client_pause", url=redis_url, mode="ALL", duration_ms=1600)
    fault.inject()  # intensity 1.0 -> 1600 ms; scaled below
    try:
        with pytest.raises(redis.TimeoutError):
            probe.get(f"{key_prefix}:k")
    finally:
        fault.revert()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            probe.ping()
            break
        except redis.RedisError:
            time.sleep(0.05)
    assert probe.ping()
    assert fault.describe()["paused_ms"] == 1600
    probe.close()


def test_pause_write_blocks_writes_only_and_revert_unpauses(
    redis_url: str, key_prefix: str
) -> None:
    probe = redis.Redis.from_url(redis_url, socket_timeout=0.2, client_name=key_prefix)
    probe.set(f"{key_prefix}:k", "1")
    fault = make("redis_client_pause", 0.5, url=redis_url, mode="WRITE", duration_ms=1800)
    fault.inject()
    try:
        assert fault.describe()["paused_ms"] == 900
        assert probe.get(f"{key_prefix}:k") == b"1"  # reads answer
        with pytest.raises(redis.TimeoutError):
            probe.set(f"{key_prefix}:k", "2")
    finally:
        fault.revert()
    t0 = time.monotonic()
    fresh = redis.Redis.from_url(redis_url, socket_timeout=2, client_name=key_prefix)
    fresh.set(f"{key_prefix}:k", "3")
    assert time.monotonic() - t0 < 0.5  # unpaused at revert, not at the pause's end
    fresh.delete(f"{key_prefix}:k")
    fresh.close()
    probe.close()


# -- redis_memory_pressure ----------------------------------------------------------------------
@pytest.fixture
def memory_settings(r: redis.Redis) -> Iterator[tuple[int, str]]:
    original = (int(r.config_get("maxmemory")["maxmemory"]), r.config_get("maxmemory-policy"))
    policy = str(original[1]["maxmemory-policy"])
    try:
        yield original[0], policy
    finally:
        r.config_set("maxmemory", original[0])
        r.config_set("maxmemory-policy", policy)


def test_memory_pressure_oom_then_restored(
    redis_url: str,
    key_prefix: str,
    r: redis.Redis,
    memory_settings: tuple[int, str],
    tmp_path: Path,
) -> None:
    maxmemory, policy = memory_settings
    ledger = Ledger(tmp_path / "ledger.json")
    fault = make(
        "redis_memory_pressure",
        ledger=ledger,
        url=redis_url,
        prefix=f"{key_prefix}:fill:",
        headroom_mb=1,
    )
    assert fault.persistent
    try:
        fault.inject()
        entry = ledger.entries()[0]  # written before the change, with the undo state
        assert entry.undo["maxmemory"] == maxmemory and entry.undo["policy"] == policy
        assert int(r.config_get("maxmemory")["maxmemory"]) not in (0, maxmemory)
        with pytest.raises(redis.exceptions.OutOfMemoryError, match="maxmemory"):
            r.set(f"{key_prefix}:mine", "x" * 100_000)
    finally:
        fault.revert()
    d = fault.describe()
    assert d["oom"] and d["filled_bytes"] > 0 and d["deleted"] > 0
    assert int(r.config_get("maxmemory")["maxmemory"]) == maxmemory
    assert r.config_get("maxmemory-policy")["maxmemory-policy"] == policy
    assert list(r.scan_iter(match=f"{key_prefix}:*")) == []
    assert ledger.entries() == [] and not ledger.path.exists()
    assert r.set(f"{key_prefix}:mine", "x")
    r.delete(f"{key_prefix}:mine")
    fault.revert()  # idempotent


def test_memory_pressure_partial_fill_by_intensity(
    redis_url: str, key_prefix: str, r: redis.Redis, memory_settings: tuple[int, str]
) -> None:
    fault = make(
        "redis_memory_pressure",
        0.25,
        url=redis_url,
        prefix=f"{key_prefix}:fill:",
        headroom_mb=8,
        chunk_kb=256,
    )
    try:
        fault.inject()
        filled = fault.describe()["filled_bytes"]
    finally:
        fault.revert()
    assert 2 * 1024 * 1024 <= filled < 3 * 1024 * 1024
    assert int(r.config_get("maxmemory")["maxmemory"]) == memory_settings[0]
    assert list(r.scan_iter(match=f"{key_prefix}:*")) == []


def test_memory_pressure_revert_without_inject_is_safe(redis_url: str) -> None:
    make("redis_memory_pressure", url=redis_url).revert()
