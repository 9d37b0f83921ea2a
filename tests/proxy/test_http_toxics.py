"""HTTP toxics on a ``protocol: http`` route: the measured share of injected errors matches the
configured rate (binomial, 4 sigma), excluded paths are untouched, delays are as configured,
and traffic is unchanged with no toxic (keep-alive, POST bodies, chunked responses)."""

from __future__ import annotations

import http.client
import json
import statistics
import time

from chaosbench.proxy import ToxiproxyClient
from tests.proxy.conftest import port_of
from tests.proxy.servers import HttpServer


def within_4_sigma(hits: int, n: int, p: float) -> bool:
    sigma = (n * p * (1 - p)) ** 0.5
    return abs(hits - n * p) <= 4 * sigma + 1


def http_route(client: ToxiproxyClient, upstream: HttpServer) -> http.client.HTTPConnection:
    info = client.create_proxy("api", "127.0.0.1:0", upstream.addr, protocol="http")
    return http.client.HTTPConnection("127.0.0.1", port_of(info.listen), timeout=10)


def get(conn: http.client.HTTPConnection, path: str) -> http.client.HTTPResponse:
    conn.request("GET", path)
    resp = conn.getresponse()
    resp.read()
    return resp


def test_plain_http_passes_through_unchanged(client: ToxiproxyClient, http_server) -> None:
    conn = http_route(client, http_server)
    for i in range(20):  # one keep-alive connection
        conn.request("GET", f"/api/orders/{i}?x=1")
        resp = conn.getresponse()
        assert resp.status == 200
        assert json.loads(resp.read()) == {"path": f"/api/orders/{i}?x=1", "ok": True}
    conn.request("POST", "/api/orders", body=b'{"qty": 3}', headers={"Content-Type": "x"})
    resp = conn.getresponse()
    assert resp.status == 201 and json.loads(resp.read())["echo"] == '{"qty": 3}'
    conn.request("GET", "/chunked/abc")
    resp = conn.getresponse()
    assert json.loads(resp.read()) == {"path": "/chunked/abc", "ok": True}


def test_http_error_rate_and_paths(client: ToxiproxyClient, http_server) -> None:
    conn = http_route(client, http_server)
    get(conn, "/warm")
    client.add_toxic(
        "api",
        "http_error",
        {
            "status": 429,
            "rate": 0.3,
            "retry_after": 2,
            "paths_include": ["/api/"],
            "paths_exclude": ["/api/health"],
            "seed": 1234,
        },
    )
    n, errors, health_errors = 300, 0, 0
    for i in range(n):
        resp = get(conn, f"/api/orders/{i}")  # the existing keep-alive connection
        if resp.status == 429:
            errors += 1
            assert resp.getheader("Retry-After") == "2"
        else:
            assert resp.status == 200
        health_errors += get(conn, "/api/health").status != 200
        assert get(conn, "/other").status == 200 if i % 50 == 0 else True
    assert within_4_sigma(errors, n, 0.3), errors
    assert health_errors == 0

    client.remove_toxic("api", "http_error_downstream")
    assert all(get(conn, f"/api/orders/{i}").status == 200 for i in range(50))


def test_http_error_answer_is_the_proxys_own(client: ToxiproxyClient, http_server) -> None:
    conn = http_route(client, http_server)
    client.add_toxic("api", "http_error", {"status": 503, "rate": 1.0, "retry_after": 1.5})
    conn.request("POST", "/api/orders", body=b"x" * 5000)  # body drained, not forwarded
    resp = conn.getresponse()
    body = json.loads(resp.read())
    assert resp.status == 503 and resp.getheader("Retry-After") == "1.5"
    assert body["status"] == 503 and body["injected_by"] == "chaosbench-proxy"
    client.update_toxic("api", "http_error_downstream", {"status": 500, "body": "boom"})
    resp = get(conn, "/x")
    assert resp.status == 500 and resp.getheader("Retry-After") is None


def test_http_delay_by_path(client: ToxiproxyClient, http_server) -> None:
    conn = http_route(client, http_server)

    def median_ms(path: str, n: int = 9) -> float:
        samples = []
        for _ in range(n):
            t = time.perf_counter()
            assert get(conn, path).status == 200
            samples.append((time.perf_counter() - t) * 1000)
        return statistics.median(samples)

    base = median_ms("/slow")
    client.add_toxic("api", "http_delay", {"delay_ms": 100, "paths_include": ["/slow"]})
    assert 85 <= median_ms("/slow") - base <= 130
    assert median_ms("/fast") < base + 30
    client.remove_toxic("api", "http_delay_downstream")
    assert median_ms("/slow") < base + 30


def test_http_delay_rate(client: ToxiproxyClient, http_server) -> None:
    conn = http_route(client, http_server)
    client.add_toxic("api", "http_delay", {"delay_ms": 40, "rate": 0.25, "seed": 5})
    n, slow = 80, 0
    for _ in range(n):
        t = time.perf_counter()
        get(conn, "/a")
        slow += time.perf_counter() - t >= 0.035
    assert within_4_sigma(slow, n, 0.25), slow


def test_latency_on_an_http_route_keeps_a_closing_response(client: ToxiproxyClient, http_server):
    conn = http_route(client, http_server)
    client.add_toxic("api", "latency", {"latency": 150})
    t = time.perf_counter()
    conn.request("GET", "/bye", headers={"Connection": "close"})
    resp = conn.getresponse()
    assert resp.status == 200 and json.loads(resp.read())["path"] == "/bye"
    assert time.perf_counter() - t >= 0.14


def test_http_10_client_without_host(client: ToxiproxyClient, http_server) -> None:
    import socket

    info = client.create_proxy("api", "127.0.0.1:0", http_server.addr, protocol="http")
    with socket.create_connection(("127.0.0.1", port_of(info.listen)), timeout=5) as s:
        s.sendall(b"GET /old HTTP/1.0\r\n\r\n")
        data = b""
        while chunk := s.recv(4096):
            data += chunk
    assert data.startswith(b"HTTP/1.") and b" 200 " in data.split(b"\r\n")[0]
    assert data.endswith(b'{"path": "/old", "ok": true}')


def test_expect_100_continue(client: ToxiproxyClient, http_server) -> None:
    import socket

    info = client.create_proxy("api", "127.0.0.1:0", http_server.addr, protocol="http")
    with socket.create_connection(("127.0.0.1", port_of(info.listen)), timeout=5) as s:
        s.sendall(
            b"POST /up HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n"
        )
        assert s.recv(4096).startswith(b"HTTP/1.1 100")  # before the body was sent
        s.sendall(b"hello")
        data = b""
        while not data.endswith(b"}"):
            data += s.recv(4096)
    assert b" 201 " in data.split(b"\r\n")[0] and data.endswith(b'"echo": "hello"}')
