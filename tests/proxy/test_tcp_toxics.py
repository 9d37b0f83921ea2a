"""Each TCP toxic changes real traffic through the proxy as it says, within a stated margin, and
after removal the traffic (on the same, existing connections) is back to its baseline."""

from __future__ import annotations

import socket
import statistics
import time
from collections.abc import Callable

import pytest
import redis

from chaosbench.proxy import ToxiproxyClient
from tests.conftest import port_open, wait_until
from tests.proxy.conftest import connect, port_of, recv_exactly
from tests.proxy.servers import TcpServer, say_bye


def median_ms(fn: Callable[[], object], n: int = 25) -> float:
    samples = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t) * 1000)
    return statistics.median(samples)


def echo_rtt(s: socket.socket) -> None:
    s.sendall(b"ping")
    assert recv_exactly(s, 4) == b"ping"


@pytest.mark.parametrize("stream", ["downstream", "upstream"])
def test_latency_on_redis_get(client: ToxiproxyClient, key_prefix: str, stream: str) -> None:
    """latency 100 ms raises a proxied Redis GET's median by 100 ms ± 15 ms; removal restores."""
    info = client.create_proxy("redis", "127.0.0.1:0", "127.0.0.1:6379")
    r = redis.Redis(port=port_of(info.listen), socket_timeout=5)
    key = f"{key_prefix}:k"
    r.set(key, "v", ex=60)
    try:
        base = median_ms(lambda: r.get(key))
        client.add_toxic("redis", "latency", {"latency": 100}, stream=stream)
        slowed = median_ms(lambda: r.get(key), n=15)
        assert 85.0 <= slowed - base <= 115.0, (base, slowed)
        client.remove_toxic("redis", f"latency_{stream}")
        after = median_ms(lambda: r.get(key))
        assert after < base + 5.0, (base, after)
    finally:
        r.delete(key)


def test_latency_jitter_spreads_within_bounds(client: ToxiproxyClient, echo_server) -> None:
    info = client.create_proxy("echo", "127.0.0.1:0", echo_server.addr)
    client.add_toxic("echo", "latency", {"latency": 60, "jitter": 40, "seed": 7})
    s = connect(info.listen)
    samples = []
    for _ in range(20):
        t = time.perf_counter()
        echo_rtt(s)
        samples.append((time.perf_counter() - t) * 1000)
    samples.sort()
    assert samples[0] >= 19.0, samples  # never below latency - jitter
    assert samples[-3] <= 100.0 + 40.0, samples  # 60 + 40 ms, margin for a busy machine
    assert max(samples) - min(samples) >= 20.0, samples  # jitter does spread


def test_removal_releases_a_long_delay_at_once(client: ToxiproxyClient, echo_server) -> None:
    info = client.create_proxy("echo", "127.0.0.1:0", echo_server.addr)
    s = connect(info.listen)
    echo_rtt(s)
    client.add_toxic("echo", "latency", {"latency": 30_000})
    t = time.perf_counter()
    s.sendall(b"held")
    time.sleep(0.2)
    client.remove_toxic("echo", "latency_downstream")
    assert recv_exactly(s, 4) == b"held"
    assert time.perf_counter() - t < 2.0


def test_bandwidth_limits_throughput(client: ToxiproxyClient, echo_server) -> None:
    info = client.create_proxy("echo", "127.0.0.1:0", echo_server.addr)
    s = connect(info.listen)
    payload = b"x" * 100_000
    t = time.perf_counter()
    s.sendall(payload)
    assert len(recv_exactly(s, len(payload))) == len(payload)
    base = time.perf_counter() - t
    client.add_toxic("echo", "bandwidth", {"rate": 200})  # 200 KB/s: 100 KB in 0.5 s
    t = time.perf_counter()
    s.sendall(payload)
    assert len(recv_exactly(s, len(payload))) == len(payload)
    limited = time.perf_counter() - t
    assert 0.4 <= limited <= 1.0, limited  # rate within -20 %/+25 % (+ a busy machine)
    client.remove_toxic("echo", "bandwidth_downstream")
    t = time.perf_counter()
    s.sendall(payload)
    recv_exactly(s, len(payload))
    assert time.perf_counter() - t < max(0.15, base * 5)


def test_timeout_zero_stalls_until_removed(client: ToxiproxyClient, echo_server) -> None:
    info = client.create_proxy("echo", "127.0.0.1:0", echo_server.addr)
    s = connect(info.listen, timeout=0.4)
    echo_rtt(s)
    client.add_toxic("echo", "timeout", {"timeout": 0})
    s.sendall(b"lost")
    with pytest.raises(TimeoutError):
        s.recv(10)
    client.remove_toxic("echo", "timeout_downstream")
    s.settimeout(5)
    echo_rtt(s)  # the stalled data was dropped (as Toxiproxy does); traffic flows again


def test_timeout_closes_after_timeout(client: ToxiproxyClient, echo_server) -> None:
    info = client.create_proxy("echo", "127.0.0.1:0", echo_server.addr)
    client.add_toxic("echo", "timeout", {"timeout": 300})
    s = connect(info.listen)
    t = time.perf_counter()
    s.sendall(b"x")
    assert s.recv(10) == b""  # no data, then closed
    assert 0.25 <= time.perf_counter() - t <= 2.0


def test_reset_peer(client: ToxiproxyClient, echo_server) -> None:
    info = client.create_proxy("echo", "127.0.0.1:0", echo_server.addr)
    s = connect(info.listen)
    echo_rtt(s)
    client.add_toxic("echo", "reset_peer", {"timeout": 200})
    t = time.perf_counter()
    s.sendall(b"x")
    with pytest.raises(ConnectionResetError):
        s.recv(10)
    assert 0.15 <= time.perf_counter() - t <= 2.0
    client.remove_toxic("echo", "reset_peer_downstream")
    echo_rtt(connect(info.listen))


def test_limit_data_closes_after_n_bytes(client: ToxiproxyClient, echo_server) -> None:
    info = client.create_proxy("echo", "127.0.0.1:0", echo_server.addr)
    client.add_toxic("echo", "limit_data", {"bytes": 1000})
    s = connect(info.listen)
    s.sendall(b"y" * 3000)
    got = recv_exactly(s, 3000)
    assert len(got) == 1000
    client.remove_toxic("echo", "limit_data_downstream")
    s2 = connect(info.listen)
    s2.sendall(b"y" * 3000)
    assert len(recv_exactly(s2, 3000)) == 3000


def test_slicer_slices(client: ToxiproxyClient, echo_server) -> None:
    info = client.create_proxy("echo", "127.0.0.1:0", echo_server.addr)
    s = connect(info.listen)
    echo_rtt(s)
    client.add_toxic("echo", "slicer", {"average_size": 10, "size_variation": 0, "delay": 20_000})
    t = time.perf_counter()
    s.sendall(b"z" * 100)
    reads = []
    while sum(reads) < 100:
        reads.append(len(s.recv(1000)))
    elapsed = time.perf_counter() - t
    assert all(r % 10 == 0 for r in reads), reads  # whole 10-byte slices
    assert len(reads) >= 4, reads  # reads may merge slices on a busy machine, not all of them
    assert elapsed >= 0.15, elapsed  # 9 gaps of 20 ms
    client.remove_toxic("echo", "slicer_downstream")
    s.sendall(b"w" * 100)
    assert len(recv_exactly(s, 100)) == 100


def test_slow_close_delays_the_close(client: ToxiproxyClient) -> None:
    bye = TcpServer(say_bye)
    try:
        info = client.create_proxy("bye", "127.0.0.1:0", bye.addr)

        def time_to_eof() -> float:
            s = connect(info.listen)
            assert recv_exactly(s, 3) == b"bye"
            t = time.perf_counter()
            assert s.recv(10) == b""
            return time.perf_counter() - t

        assert time_to_eof() < 0.3
        client.add_toxic("bye", "slow_close", {"delay": 500})
        assert 0.45 <= time_to_eof() <= 2.0
        client.remove_toxic("bye", "slow_close_downstream")
        assert time_to_eof() < 0.3
    finally:
        bye.close()


def test_route_down_closes_and_refuses(client: ToxiproxyClient, echo_server) -> None:
    info = client.create_proxy("echo", "127.0.0.1:0", echo_server.addr)
    s = connect(info.listen)
    echo_rtt(s)
    client.set_enabled("echo", False)
    try:
        assert s.recv(10) == b""
    except ConnectionResetError:
        pass
    assert not port_open(port_of(info.listen))
    client.set_enabled("echo", True)
    wait_until(lambda: port_open(port_of(info.listen)), timeout=5)
    echo_rtt(connect(info.listen))


def test_reset_restores_everything(client: ToxiproxyClient, echo_server) -> None:
    info = client.create_proxy("echo", "127.0.0.1:0", echo_server.addr)
    s = connect(info.listen, timeout=0.3)
    client.add_toxic("echo", "timeout", {"timeout": 0}, stream="upstream")
    client.add_toxic("echo", "latency", {"latency": 5000})
    s.sendall(b"gone")
    with pytest.raises(TimeoutError):
        s.recv(10)
    client.reset()
    s.settimeout(5)
    t = time.perf_counter()
    echo_rtt(s)
    assert time.perf_counter() - t < 0.5
    assert client.toxics("echo") == []


def test_toxicity_is_per_connection(client: ToxiproxyClient, echo_server) -> None:
    """toxicity 0.5: about half of 60 connections are reset (binomial, 4 sigma)."""
    info = client.create_proxy("echo", "127.0.0.1:0", echo_server.addr)
    client.add_toxic("echo", "reset_peer", {"timeout": 0, "seed": 11}, toxicity=0.5)
    n, reset = 60, 0
    for _ in range(n):
        s = connect(info.listen)
        s.sendall(b"abcd")
        try:
            ok = recv_exactly(s, 4) == b"abcd"
            if ok:
                echo_rtt(s)  # the same connection keeps its draw
        except ConnectionResetError:
            ok = False
        reset += not ok
        s.close()
    sigma = (n * 0.25) ** 0.5
    assert abs(reset - n / 2) <= 4 * sigma, reset


def test_deleting_a_proxy_closes_its_connections(client: ToxiproxyClient, echo_server) -> None:
    info = client.create_proxy("echo", "127.0.0.1:0", echo_server.addr)
    s = connect(info.listen)
    echo_rtt(s)
    client.delete_proxy("echo")
    try:
        assert s.recv(10) == b""
    except ConnectionResetError:
        pass
    assert not port_open(port_of(info.listen))


def test_unreachable_upstream_closes_the_client(client: ToxiproxyClient) -> None:
    from tests.conftest import free_port

    info = client.create_proxy("void", "127.0.0.1:0", f"127.0.0.1:{free_port()}")
    s = connect(info.listen)
    try:
        assert s.recv(10) == b""
    except ConnectionResetError:
        pass


def test_many_concurrent_connections_with_latency(client: ToxiproxyClient, echo_server) -> None:
    import threading

    info = client.create_proxy("echo", "127.0.0.1:0", echo_server.addr)
    client.add_toxic("echo", "latency", {"latency": 50})
    errors: list[BaseException] = []

    def user() -> None:
        try:
            s = connect(info.listen)
            for _ in range(5):
                echo_rtt(s)
            s.close()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=user) for _ in range(40)]
    t = time.perf_counter()
    for th in threads:
        th.start()
    for th in threads:
        th.join(30)
    assert not errors
    assert time.perf_counter() - t < 5.0  # concurrent: about 5 x 50 ms, not 40 x 5 x 50 ms


@pytest.mark.parametrize("protocol", ["tcp", "http"])
def test_back_pressure_under_bandwidth(client: ToxiproxyClient, echo_server, protocol: str) -> None:
    """A slow toxic does not make the proxy buffer without bound: the sender is stalled."""
    info = client.create_proxy("slow", "127.0.0.1:0", echo_server.addr, protocol=protocol)
    client.add_toxic("slow", "bandwidth", {"rate": 50}, stream="upstream")
    s = connect(info.listen)
    if protocol == "http":
        s.sendall(b"POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n\r\n")
    s.setblocking(False)
    chunk, sent = b"z" * 65536, 0
    deadline = time.monotonic() + 5
    while sent < 100_000_000 and time.monotonic() < deadline:
        try:
            sent += s.send(chunk)
        except BlockingIOError:
            time.sleep(0.05)
            try:
                sent += s.send(chunk)
            except BlockingIOError:
                break
    assert sent < 40_000_000, sent  # kernel buffers + at most 64 queued chunks, not 100 MB
    s.close()
