"""The proxy-level fault classes drive the embedded proxy: the toxic each one creates, its
effect on real traffic, and an idempotent revert."""

from __future__ import annotations

import http.client
import random
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from chaosbench.chaos.faults import FaultContext
from chaosbench.chaos.faults._toxic import ToxicFault
from chaosbench.chaos.profile import parse_profile
from chaosbench.ground.errors import ChaosbenchError
from chaosbench.proxy import EmbeddedProxy, ToxiproxyClient
from chaosbench.proxy.client import ProxySpec
from tests.chaos._sched_support import median_ping, proxy, redis_ping, toxics_left  # noqa: F401
from tests.conftest import free_port

# fault entry (without route) -> (toxic type, attributes the proxy must show, toxicity)
TCP_CASES: dict[str, tuple[str, str, dict[str, Any], float]] = {
    "latency": ("latency_ms: 200, jitter_ms: 20", "latency", {"latency": 100, "jitter": 10}, 1.0),
    "bandwidth": ("kb_per_s: 64, toxicity: 0.8", "bandwidth", {"rate": 64}, 0.4),
    "stall": ("timeout_ms: 500", "timeout", {"timeout": 500}, 0.5),
    "reset_peer": ("timeout_ms: 10", "reset_peer", {"timeout": 10}, 0.5),
    "slicer": (
        "average_size: 8, size_variation: 4, delay_us: 100",
        "slicer",
        {"average_size": 8, "size_variation": 4, "delay": 100},
        0.5,
    ),
    "limit_data": ("bytes: 1000", "limit_data", {"bytes": 1000}, 0.5),
    "slow_close": ("delay_ms: 300", "slow_close", {"delay": 300}, 0.5),
    "packet_loss": (
        "loss: 0.4, rto_ms: 100",
        "packet_loss",
        {"loss": 0.2, "rto": 100, "max_rto": 3200},
        1.0,
    ),
}
HTTP_CASES: dict[str, tuple[str, dict[str, Any]]] = {
    "http_error": ("status: 429, retry_after: 2, rate: 0.8, paths_include: [/api]",
                   {"status": 429, "retry_after": 2, "rate": 0.4, "paths_include": ["/api"]}),
    "http_delay": ("delay_ms: 400, rate: 0.5, paths_exclude: [/health]",
                   {"delay_ms": 200, "rate": 0.5, "paths_exclude": ["/health"]}),
    "ws_drop": ("rate: 0.2", {"rate": 0.1}),
    "ws_delay": ("delay_ms: 100, jitter_ms: 40", {"delay_ms": 50, "jitter_ms": 20}),
    "ws_corrupt": ("rate: 0.5", {"rate": 0.25}),
    "ws_reorder": ("rate: 0.5, window: 3", {"rate": 0.25, "window": 3}),
}  # fmt: skip


def build(
    px: EmbeddedProxy, entry: str, intensity: float = 0.5, seed: int | None = None
) -> tuple[ToxicFault[Any], int]:
    tcp, http = free_port(), free_port()
    profile = parse_profile(
        f"""
proxy:
  routes:
    tcp: {{listen: 127.0.0.1:{tcp}, upstream: 127.0.0.1:6379}}
    web: {{listen: 127.0.0.1:{http}, upstream: 127.0.0.1:9, protocol: http}}
faults:
  - {entry}
""",
        "t.yaml",
    )
    ToxiproxyClient(px.url).populate(
        [ProxySpec(n, r.listen, r.upstream, True, r.protocol) for n, r in profile.routes.items()]
    )
    spec = profile.faults[0]
    ctx = FaultContext(proxy_url=px.url, routes=profile.route_table(), rng=random.Random(seed))
    fault = spec.cls(spec.name, spec.settings, ctx, intensity)
    assert isinstance(fault, ToxicFault) or spec.type == "route_down"
    return fault, tcp  # type: ignore[return-value]


@pytest.mark.parametrize("ftype", sorted(TCP_CASES))
def test_tcp_fault_creates_its_toxic_and_reverts(proxy: EmbeddedProxy, ftype: str) -> None:  # noqa: F811
    settings, toxic, attrs, toxicity = TCP_CASES[ftype]
    fault, _port = build(proxy, f"{{name: f, type: {ftype}, route: tcp, {settings}}}")
    fault.inject()
    [info] = ToxiproxyClient(proxy.url).toxics("tcp")
    assert (info.name, info.type, info.stream) == ("cb_f_downstream", toxic, "downstream")
    assert {k: info.attributes[k] for k in attrs} == attrs
    assert info.toxicity == pytest.approx(toxicity)
    fault.revert()
    fault.revert()  # idempotent
    assert toxics_left(proxy.url) == {}


@pytest.mark.parametrize("ftype", sorted(HTTP_CASES))
def test_extension_fault_creates_its_toxic(proxy: EmbeddedProxy, ftype: str) -> None:  # noqa: F811
    settings, attrs = HTTP_CASES[ftype]
    fault, _port = build(proxy, f"{{name: f, type: {ftype}, route: web, {settings}}}")
    fault.inject()
    [info] = ToxiproxyClient(proxy.url).toxics("web")
    assert info.type == ftype
    assert {k: info.attributes[k] for k in attrs} == attrs
    assert isinstance(info.attributes.get("seed"), int)  # seeded from the run's generator
    fault.revert()
    fault.revert()
    assert toxics_left(proxy.url) == {}


def test_revert_without_inject_and_half_inject(proxy: EmbeddedProxy) -> None:  # noqa: F811
    fault, _ = build(proxy, "{name: f, type: latency, route: tcp, latency_ms: 100, stream: both}")
    fault.revert()  # never injected: fine
    # Half an inject: only the upstream toxic made it.
    ToxiproxyClient(proxy.url).add_toxic(
        "tcp", "latency", {"latency": 100}, stream="upstream", name=fault.toxic_name("upstream")
    )
    fault.revert()
    assert toxics_left(proxy.url) == {}


def test_latency_intensity_on_traffic(proxy: EmbeddedProxy) -> None:  # noqa: F811
    fault, port = build(proxy, "{name: f, type: latency, route: tcp, latency_ms: 200}", 0.5)
    base = median_ping(port)
    fault.inject()
    try:
        added = median_ping(port, n=9) - base
    finally:
        fault.revert()
    assert 0.085 < added < 0.15, added  # 0.5 x 200 ms
    assert median_ping(port) - base < 0.02


def test_route_down_is_a_partition(proxy: EmbeddedProxy) -> None:  # noqa: F811
    fault, port = build(proxy, "{name: f, type: route_down, route: tcp}")
    assert median_ping(port) < 0.05
    fault.inject()
    try:
        with pytest.raises(OSError):
            median_ping(port, n=1)
        assert toxics_left(proxy.url) == {"tcp": ["<disabled>"]}
    finally:
        fault.revert()
    fault.revert()
    assert median_ping(port) < 0.05 and toxics_left(proxy.url) == {}


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def http_upstream() -> Iterator[int]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    yield int(server.server_address[1])
    server.shutdown()
    server.server_close()


def get(port: int, path: str) -> tuple[int, str | None]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        resp.read()
        return resp.status, resp.getheader("Retry-After")
    finally:
        conn.close()


def test_http_error_on_real_requests(proxy: EmbeddedProxy, http_upstream: int) -> None:  # noqa: F811
    listen = free_port()
    profile = parse_profile(
        f"""
proxy: {{routes: {{web: {{listen: 127.0.0.1:{listen}, upstream: 127.0.0.1:{http_upstream},
                          protocol: http}}}}}}
faults:
  - {{name: e, type: http_error, route: web, status: 429, retry_after: 1, rate: 1.0,
      paths_include: [/api], paths_exclude: [/api/health]}}
""",
        "t.yaml",
    )
    ToxiproxyClient(proxy.url).populate(
        [ProxySpec("web", f"127.0.0.1:{listen}", f"127.0.0.1:{http_upstream}", True, "http")]
    )
    spec = profile.faults[0]
    fault = spec.cls("e", spec.settings, FaultContext(proxy.url, profile.route_table()), 1.0)
    assert get(listen, "/api/x")[0] == 200
    fault.inject()
    try:
        assert [get(listen, "/api/orders") for _ in range(20)] == [(429, "1")] * 20
        assert get(listen, "/api/health")[0] == 200  # excluded
        assert get(listen, "/other")[0] == 200  # not included
    finally:
        fault.revert()
    assert get(listen, "/api/orders")[0] == 200


def test_fault_errors_are_one_line(proxy: EmbeddedProxy) -> None:  # noqa: F811
    fault, _ = build(proxy, "{name: f, type: latency, route: tcp, latency_ms: 100}")
    ToxiproxyClient(proxy.url).delete_proxy("tcp")
    with pytest.raises(ChaosbenchError) as info:
        fault.inject()
    assert "\n" not in str(info.value) and "tcp" in str(info.value)
    fault.revert()  # the route is gone: removing its toxics is still fine
    # Nothing listens at this API: a clear error, not a hang.
    dead = FaultContext(proxy_url=f"http://127.0.0.1:{free_port()}", routes=fault.ctx.routes)
    other = type(fault)("g", fault.settings, dead, 1.0)
    with pytest.raises(ChaosbenchError):
        other.inject()


def ping_times(port: int, connections: int, per_connection: int) -> list[float]:
    """Redis PING round trips (seconds) on ``connections`` parallel connections through
    ``port``, ``per_connection`` each (the first PING of each connection is not counted)."""
    results: list[list[float]] = [[] for _ in range(connections)]
    errors: list[BaseException] = []

    def run(out: list[float]) -> None:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=15.0) as sock:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                redis_ping(sock)
                for _ in range(per_connection):
                    t0 = time.perf_counter()
                    redis_ping(sock)
                    out.append(time.perf_counter() - t0)
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(r,), daemon=True) for r in results]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120.0)
    assert not errors, errors[0]
    assert not any(t.is_alive() for t in threads), "PING threads did not finish in 120 s"
    return [x for r in results for x in r]


def test_packet_loss_delays_that_share_of_requests(proxy: EmbeddedProxy) -> None:  # noqa: F811
    """loss 0.4 at intensity 0.5: each reply is lost with p = 0.2 and arrives after the 200 ms
    RTO; the share of PINGs delayed by >= ~200 ms is p within 4 binomial sigma. After the revert
    no PING is delayed."""
    fault, port = build(
        proxy, "{name: pl, type: packet_loss, route: tcp, loss: 0.4, stream: downstream}", 0.5, 7
    )
    assert ping_times(port, 4, 5) and max(ping_times(port, 4, 5)) < 0.18  # baseline
    fault.inject()
    try:
        [info] = ToxiproxyClient(proxy.url).toxics("tcp")
        assert (info.type, info.stream, info.attributes["loss"]) == (
            "packet_loss",
            "downstream",
            0.2,
        )
        times = ping_times(port, connections=20, per_connection=25)
    finally:
        fault.revert()
    n, p = len(times), 0.2
    delayed = sum(1 for t in times if t >= 0.18)
    assert n == 500
    assert abs(delayed - n * p) <= 4 * (n * p * (1 - p)) ** 0.5, (delayed, n)
    assert min(t for t in times if t >= 0.18) >= 0.19  # a lost reply waits a whole RTO
    assert toxics_left(proxy.url) == {}
    after = ping_times(port, connections=20, per_connection=10)
    assert max(after) < 0.18, sorted(after)[-5:]


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ("loss: 1.5", "faults[0].loss: Input should be less than or equal to 1 (got 1.5)"),
        (
            "loss: 0.1, rto_ms: 500, max_rto_ms: 100",
            "faults[0]: max_rto_ms 100 is less than rto_ms 500",
        ),
        ("los: 0.1", "faults[0].los: unknown key (did you mean 'loss'?)"),
    ],
)
def test_packet_loss_settings_are_validated_in_the_profile(settings: str, message: str) -> None:
    with pytest.raises(ChaosbenchError) as err:
        parse_profile(
            f"""
proxy: {{routes: {{r: {{listen: 127.0.0.1:{free_port()}, upstream: 127.0.0.1:6379}}}}}}
faults: [{{name: pl, type: packet_loss, route: r, {settings}}}]
""",
            "t.yaml",
        )
    assert str(err.value) == f"t.yaml: {message}"


def test_trading_system_profile_ramps_packet_loss_5_20_50() -> None:
    from chaosbench.chaos.profile import load_profile

    profile = load_profile("profiles/trading-system.yaml")
    [spec] = [f for f in profile.faults if f.type == "packet_loss"]
    ctx = FaultContext(proxy_url="http://127.0.0.1:1", routes=profile.route_table())
    losses = [
        spec.cls(spec.name, spec.settings, ctx, i).describe()["attributes"]["loss"]
        for i in spec.intensities
    ]
    assert losses == pytest.approx([0.05, 0.2, 0.5]) and len(spec.bursts) == 3
