"""Host faults: CPU hog and memory balloon (bounded child processes), DNS failures and clock skew
for the harness's own clients."""

from __future__ import annotations

import os
import random
import signal
import socket
import textwrap
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gevent
import pydantic
import pytest
import redis

from chaosbench.chaos.faults import FaultContext, catalogue
from chaosbench.chaos.faults._proc import rss_bytes
from chaosbench.chaos.faults.base import Fault
from chaosbench.chaos.ledger import process_alive
from tests.conftest import PYTHON, Proc, wait_until

TICKS = os.sysconf("SC_CLK_TCK")


def make(type_name: str, intensity: float = 1.0, **settings: Any) -> Fault[Any]:
    cls = catalogue()[type_name]
    return cls(
        f"t-{type_name}", cls.Settings(**settings), FaultContext(rng=random.Random(9)), intensity
    )


def cpu_seconds(pid: int) -> float:
    raw = Path(f"/proc/{pid}/stat").read_text()
    fields = raw[raw.rfind(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def gwait(cond: Callable[[], object], timeout: float = 15.0) -> object:
    """Poll with gevent.sleep, so that the faults' greenlets run while waiting."""
    return wait_until(cond, timeout, interval=0.05, sleep=gevent.sleep)


# -- cpu_hog and memory_balloon -----------------------------------------------------------------
def test_cpu_hog_burns_cpu_until_revert() -> None:
    fault = make("cpu_hog", workers=1)
    fault.inject()
    try:
        (pid,) = fault.pids  # type: ignore[attr-defined]
        gwait(lambda: cpu_seconds(pid) >= 0.3)  # a busy loop (2 shared cores: generous timeout)
    finally:
        fault.revert()
    assert not process_alive(pid, None)
    assert fault.describe()["workers"] == 1
    with pytest.raises(Exception, match="2 per core"):
        make("cpu_hog", workers=64 * (os.cpu_count() or 1)).inject()


def test_memory_balloon_raises_rss_until_revert() -> None:
    fault = make("memory_balloon", 0.5, mb=128)
    fault.inject()
    try:
        pid = fault.pid  # type: ignore[attr-defined]
        assert rss_bytes(pid) >= 60 * 1024 * 1024
        assert fault.describe()["mb"] == 64 and fault.describe()["rss_mb"] >= 60
    finally:
        fault.revert()
    assert not process_alive(pid, None)
    with pytest.raises(pydantic.ValidationError):
        make("memory_balloon", mb=100_000)


HOG = textwrap.dedent(
    """
    import time
    from chaosbench.chaos.faults import FaultContext, catalogue
    cls = catalogue()["cpu_hog"]
    hog = cls("hog", cls.Settings(workers=1, max_s=600), FaultContext(), 0.2)
    hog.inject()
    print("pids", *hog.pids, flush=True)
    time.sleep(60)
    """
)


def test_children_die_with_the_harness(spawn: Callable[..., Proc]) -> None:
    harness = spawn([PYTHON, "-c", HOG], name="hog")
    wait_until(lambda: "pids" in harness.output(), timeout=30)
    pids = [int(p) for p in harness.output().split("pids", 1)[1].split()]
    assert pids and all(process_alive(p, None) for p in pids)
    harness.popen.send_signal(signal.SIGKILL)
    harness.popen.wait(10)
    wait_until(lambda: not any(process_alive(p, None) for p in pids), timeout=10)


# -- dns_failure --------------------------------------------------------------------------------
def test_dns_failure_fails_lookups_until_revert(redis_url: str) -> None:
    original = socket.getaddrinfo
    fault = make("dns_failure")
    assert fault.targets() == [] and fault.target == "harness:dns"
    fault.inject()
    try:
        with pytest.raises(socket.gaierror, match="Temporary failure in name resolution"):
            socket.getaddrinfo("localhost", 6379)
        client = redis.Redis(host="localhost", port=6379, socket_connect_timeout=1, retry=None)
        with pytest.raises(redis.ConnectionError, match="name resolution"):
            client.ping()  # a real client of the harness cannot resolve its server
    finally:
        fault.revert()
    assert socket.getaddrinfo is original
    assert socket.getaddrinfo("localhost", 6379)
    assert redis.Redis(host="localhost", port=6379).ping()
    fault.revert()  # idempotent


def test_dns_failure_share_hosts_and_names() -> None:
    fault = make("dns_failure", 0.5, share=0.6)  # 30 % of lookups
    fault.inject()
    try:
        failed = 0
        for _ in range(600):
            try:
                socket.getaddrinfo("127.0.0.1", 80)
            except socket.gaierror:
                failed += 1
        assert 0.22 < failed / 600 < 0.38
    finally:
        fault.revert()
    only = make("dns_failure", hosts=["db.example"], match="names")
    only.inject()
    try:
        assert socket.getaddrinfo("127.0.0.1", 80)  # IP literal and not listed
        assert socket.getaddrinfo("localhost", 80)  # a name, but not listed
        with pytest.raises(socket.gaierror):
            socket.getaddrinfo("db.example", 80)
    finally:
        only.revert()
    assert only.describe() == {
        "settings": {"share": 1.0, "hosts": ["db.example"], "match": "names"},
        "lookups": 1,
        "failed": 1,
    }


# -- clock_skew ---------------------------------------------------------------------------------
def test_clock_skew_shifts_wall_and_restores() -> None:
    fault = make("clock_skew", 0.5, offset_ms=-4000)
    clock = fault.ctx.state.clock  # the run's client clock
    assert clock.skew == 0.0
    fault.inject()
    try:
        assert abs(clock.wall() - time.time() - (-2.0)) < 0.05
        assert fault.describe()["skew_s"] == -2.0
    finally:
        fault.revert()
    assert clock.skew == 0.0
    assert abs(clock.wall() - time.time()) < 0.05
    fault.revert()
    assert clock.skew == 0.0
