"""Regression tests: the embedded proxy follows Toxiproxy 2.12's rules (api.go,
proxy_collection.go, toxic_collection.go, proxy.go), driven over the raw HTTP API."""

from __future__ import annotations

import http.client
import socket
from collections.abc import Iterator

import pytest

from chaosbench.proxy import EmbeddedProxy
from tests.conftest import free_port, port_open
from tests.proxy.conftest import connect, port_of, recv_exactly
from tests.proxy.servers import TcpServer, echo
from tests.proxy.test_conformance import raw


@pytest.fixture
def second_echo() -> Iterator[TcpServer]:
    srv = TcpServer(echo)
    yield srv
    srv.close()


def roundtrip(s: socket.socket, data: bytes = b"ping") -> bytes:
    s.sendall(data)
    return recv_exactly(s, len(data))


def make_proxy(embedded: EmbeddedProxy, name: str, upstream: str, listen: str = "") -> dict:
    port = free_port()
    status, body = raw(
        embedded,
        "POST",
        "/proxies",
        {"name": name, "listen": listen or f"127.0.0.1:{port}", "upstream": upstream},
    )
    assert status == 201, body
    return body


def send_raw(embedded: EmbeddedProxy, method: str, path: str, payload: bytes) -> tuple[int, str]:
    conn = http.client.HTTPConnection("127.0.0.1", embedded.api_port, timeout=5)
    conn.request(method, path, body=payload, headers={"Content-Type": "application/json"})
    resp = conn.getresponse()
    out = resp.status, resp.read().decode()
    conn.close()
    return out


# -- populate: all or nothing ----------------------------------------------------------------


def test_populate_invalid_later_item_changes_nothing(
    embedded: EmbeddedProxy, echo_server: TcpServer, second_echo: TcpServer
) -> None:
    a = make_proxy(embedded, "a", echo_server.addr)
    assert raw(embedded, "POST", "/proxies/a/toxics", {"type": "latency", "name": "lat"})[0] == 200
    with connect(a["listen"]) as s:
        assert roundtrip(s) == b"ping"
        bad_items = [
            {"name": "b", "upstream": second_echo.addr},  # missing nothing: but next one does
            {"name": "c"},
        ]
        for bad in (
            bad_items,
            [{"name": "b", "upstream": second_echo.addr}, {"upstream": second_echo.addr}],
            [{"name": "b", "upstream": second_echo.addr, "listen": "0.0.0.0:0"}],
        ):
            items = [{"name": "a", "listen": a["listen"], "upstream": second_echo.addr}, *bad]
            status, body = raw(embedded, "POST", "/populate", items)
            assert status == 400, body
            assert body["proxies"] == []
        assert raw(embedded, "POST", "/populate", [{"name": "x"}])[1]["error"] == (
            "missing required field: upstream at proxy 1"
        )
        status, proxies = raw(embedded, "GET", "/proxies")
        assert set(proxies) == {"a"}
        assert proxies["a"]["upstream"] == echo_server.addr
        assert [t["name"] for t in proxies["a"]["toxics"]] == ["lat"]
        assert roundtrip(s, b"still here") == b"still here"  # never restarted


def test_populate_busy_port_later_changes_nothing(
    embedded: EmbeddedProxy, echo_server: TcpServer, second_echo: TcpServer
) -> None:
    a = make_proxy(embedded, "a", echo_server.addr)
    raw(embedded, "POST", "/proxies/a/toxics", {"type": "latency", "name": "lat"})
    with socket.socket() as busy, connect(a["listen"]) as s:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        busy_addr = f"127.0.0.1:{busy.getsockname()[1]}"
        items = [
            {"name": "a", "listen": a["listen"], "upstream": second_echo.addr},
            {"name": "new", "listen": "127.0.0.1:0", "upstream": second_echo.addr},
            {"name": "c", "listen": busy_addr, "upstream": second_echo.addr},
        ]
        status, body = raw(embedded, "POST", "/populate", items)
        assert status == 500 and busy_addr in body["error"]
        proxies = raw(embedded, "GET", "/proxies")[1]
        assert set(proxies) == {"a"}
        assert proxies["a"]["upstream"] == echo_server.addr and proxies["a"]["enabled"] is True
        assert [t["name"] for t in proxies["a"]["toxics"]] == ["lat"]
        assert roundtrip(s) == b"ping"  # the port was tried before anything was stopped


def test_populate_listener_failure_puts_every_proxy_back(
    embedded: EmbeddedProxy, echo_server: TcpServer, second_echo: TcpServer
) -> None:
    """Two new items on one free port: only the second start fails; the replaced proxy is back."""
    a = make_proxy(embedded, "a", echo_server.addr)
    raw(embedded, "POST", "/proxies/a/toxics", {"type": "latency", "name": "lat"})
    port = free_port()
    items = [
        {"name": "a", "listen": a["listen"], "upstream": second_echo.addr},
        {"name": "x", "listen": f"127.0.0.1:{port}", "upstream": second_echo.addr},
        {"name": "y", "listen": f"127.0.0.1:{port}", "upstream": second_echo.addr},
    ]
    status, body = raw(embedded, "POST", "/populate", items)
    assert status == 500 and str(port) in body["error"]
    proxies = raw(embedded, "GET", "/proxies")[1]
    assert set(proxies) == {"a"}
    assert proxies["a"]["listen"] == a["listen"] and proxies["a"]["upstream"] == echo_server.addr
    assert [t["name"] for t in proxies["a"]["toxics"]] == ["lat"]
    assert not port_open(port)
    with connect(a["listen"]) as s:
        assert roundtrip(s) == b"ping"


def test_populate_same_item_keeps_the_proxy_as_it_is(
    embedded: EmbeddedProxy, echo_server: TcpServer, second_echo: TcpServer
) -> None:
    """Toxiproxy's AddOrReplace: not different, so untouched (not re-enabled, toxics kept)."""
    a = make_proxy(embedded, "a", echo_server.addr)
    raw(embedded, "POST", "/proxies/a/toxics", {"type": "latency", "name": "lat"})
    assert raw(embedded, "POST", "/proxies/a", {"enabled": False})[1]["enabled"] is False
    same = {"name": "a", "listen": a["listen"], "upstream": echo_server.addr}
    status, body = raw(embedded, "POST", "/populate", [same])
    assert status == 201
    assert body["proxies"][0]["enabled"] is False
    assert not port_open(port_of(a["listen"]))
    assert [t["name"] for t in body["proxies"][0]["toxics"]] == ["lat"]

    raw(embedded, "POST", "/proxies/a", {"enabled": True})
    by_name = {**same, "listen": f"localhost:{port_of(a['listen'])}", "enabled": False}
    body = raw(embedded, "POST", "/populate", [by_name])[1]
    assert body["proxies"][0]["enabled"] is True  # same address by name: still the same proxy

    changed = {**same, "upstream": second_echo.addr}
    body = raw(embedded, "POST", "/populate", [changed])[1]
    assert body["proxies"][0]["upstream"] == second_echo.addr
    assert body["proxies"][0]["toxics"] == []  # replaced: a new proxy


# -- PATCH -------------------------------------------------------------------------------------


def test_patch_updates_proxies_and_toxics(embedded: EmbeddedProxy, echo_server: TcpServer) -> None:
    a = make_proxy(embedded, "a", echo_server.addr)
    status, body = raw(embedded, "PATCH", "/proxies/a", {"enabled": False})
    assert (status, body["enabled"]) == (200, False)
    assert not port_open(port_of(a["listen"]))
    assert raw(embedded, "PATCH", "/proxies/a", {"enabled": True})[1]["enabled"] is True
    raw(embedded, "POST", "/proxies/a/toxics", {"type": "latency", "attributes": {"latency": 5}})
    status, body = raw(
        embedded,
        "PATCH",
        "/proxies/a/toxics/latency_downstream",
        {"attributes": {"jitter": 2}, "toxicity": 0.25},
    )
    assert status == 200
    assert body["attributes"] == {"latency": 5, "jitter": 2} and body["toxicity"] == 0.25
    assert raw(embedded, "PATCH", "/proxies/zz")[0] == 404
    assert raw(embedded, "PATCH", "/proxies/a/toxics/zz", {})[0] == 404
    assert raw(embedded, "PATCH", "/proxies")[0] == 405


# -- toxics: streams, attributes, order ------------------------------------------------------


def test_toxic_update_ignores_stream_name_and_type(
    embedded: EmbeddedProxy, echo_server: TcpServer
) -> None:
    make_proxy(embedded, "a", echo_server.addr)
    raw(embedded, "POST", "/proxies/a/toxics", {"type": "latency", "attributes": {"latency": 1}})
    status, body = raw(
        embedded,
        "POST",
        "/proxies/a/toxics/latency_downstream",
        {"stream": "upstream", "name": "renamed", "type": "timeout", "attributes": {"latency": 9}},
    )
    assert status == 200
    assert (body["name"], body["type"], body["stream"]) == (
        "latency_downstream",
        "latency",
        "downstream",
    )
    assert body["attributes"]["latency"] == 9
    assert [t["stream"] for t in raw(embedded, "GET", "/proxies/a/toxics")[1]] == ["downstream"]


def test_stream_names_are_case_insensitive(embedded: EmbeddedProxy, echo_server: TcpServer) -> None:
    make_proxy(embedded, "a", echo_server.addr)
    status, body = raw(
        embedded, "POST", "/proxies/a/toxics", {"type": "latency", "stream": "UpStream"}
    )
    assert status == 200
    assert (body["name"], body["stream"]) == ("latency_upstream", "upstream")
    status, body = raw(embedded, "POST", "/proxies/a/toxics", {"type": "slicer", "stream": ""})
    assert (status, body["error"]) == (
        400,
        "stream was invalid, can be either upstream or downstream",
    )


def test_attributes_decode_as_go_does(embedded: EmbeddedProxy, echo_server: TcpServer) -> None:
    make_proxy(embedded, "a", echo_server.addr)
    status, body = raw(
        embedded,
        "POST",
        "/proxies/a/toxics",
        {"type": "latency", "attributes": {"latency": 7, "no_such": 1, "Jitter": 3}},
    )
    assert status == 200, body  # unknown ignored, keys case-insensitive
    assert body["attributes"] == {"latency": 7, "jitter": 3}
    for bad in ({"latency": "7"}, {"latency": 1.5}, {"latency": 1.0}, {"latency": True}):
        status, body = raw(
            embedded, "POST", "/proxies/a/toxics", {"type": "slicer", "attributes": bad}
        )
        assert status == 200  # slicer has no 'latency': ignored
        raw(embedded, "DELETE", "/proxies/a/toxics/slicer_downstream")
        status, body = raw(
            embedded, "POST", "/proxies/a/toxics/latency_downstream", {"attributes": bad}
        )
        assert status == 400 and "attribute latency" in body["error"], (bad, body)
    status, body = raw(
        embedded, "POST", "/proxies/a/toxics/latency_downstream", {"attributes": {"latency": 2**63}}
    )
    assert status == 400 and "overflows int64" in body["error"]
    status, body = raw(
        embedded, "POST", "/proxies/a/toxics/latency_downstream", {"attributes": {"latency": None}}
    )
    assert status == 200 and body["attributes"]["latency"] == 7  # null: left as it was
    status, body = raw(
        embedded, "POST", "/proxies/a/toxics/latency_downstream", {"toxicity": "0.5"}
    )
    assert status == 400 and "toxicity" in body["error"]
    status, body = raw(embedded, "POST", "/proxies/a/toxics", {"TYPE": "timeout", "Toxicity": 0})
    assert status == 200 and (body["type"], body["toxicity"]) == ("timeout", 0.0)


def test_float_attributes_take_integers(embedded: EmbeddedProxy) -> None:
    status, _ = raw(
        embedded,
        "POST",
        "/proxies",
        {"name": "h", "upstream": "127.0.0.1:1", "protocol": "http"},
    )
    assert status == 201
    status, body = raw(
        embedded, "POST", "/proxies/h/toxics", {"type": "http_delay", "attributes": {"delay_ms": 5}}
    )
    assert status == 200 and body["attributes"]["delay_ms"] == 5
    status, body = raw(
        embedded,
        "POST",
        "/proxies/h/toxics",
        {"type": "http_error", "attributes": {"rate": "1"}},
    )
    assert status == 400 and "attribute rate" in body["error"]


def test_toxics_listed_upstream_first(embedded: EmbeddedProxy, echo_server: TcpServer) -> None:
    make_proxy(embedded, "a", echo_server.addr)
    for toxic in (
        {"type": "latency", "name": "d1"},
        {"type": "bandwidth", "name": "u1", "stream": "upstream"},
        {"type": "slicer", "name": "d2"},
        {"type": "latency", "name": "u2", "stream": "upstream"},
    ):
        assert raw(embedded, "POST", "/proxies/a/toxics", toxic)[0] == 200
    order = ["u1", "u2", "d1", "d2"]
    assert [t["name"] for t in raw(embedded, "GET", "/proxies/a/toxics")[1]] == order
    assert [t["name"] for t in raw(embedded, "GET", "/proxies/a")[1]["toxics"]] == order
    raw(embedded, "POST", "/proxies/a/toxics/u1", {"toxicity": 0.5})  # an update keeps its place
    assert [t["name"] for t in raw(embedded, "GET", "/proxies")[1]["a"]["toxics"]] == order


# -- proxy update: the listener ----------------------------------------------------------------


def test_update_naming_the_same_address_keeps_the_listener(
    embedded: EmbeddedProxy, echo_server: TcpServer, second_echo: TcpServer
) -> None:
    a = make_proxy(embedded, "a", echo_server.addr)
    port = port_of(a["listen"])
    with connect(a["listen"]) as s:
        assert roundtrip(s) == b"ping"
        for listen in (f"localhost:{port}", f"127.0.0.1:{port}"):
            status, body = raw(embedded, "POST", "/proxies/a", {"listen": listen})
            assert status == 200 and body["listen"] == a["listen"]
            assert roundtrip(s, listen.encode()) == listen.encode()  # not dropped
        status, body = raw(embedded, "POST", "/proxies/a", {"upstream": second_echo.addr})
        assert status == 200 and body["upstream"] == second_echo.addr
        s.settimeout(5)
        try:
            s.sendall(b"x")
            assert s.recv(1) == b""  # a new upstream restarts the listener: connection closed
        except OSError:
            pass
    with connect(body["listen"]) as s2:
        assert roundtrip(s2) == b"ping"


def test_update_to_a_busy_port_keeps_the_old_listener(
    embedded: EmbeddedProxy, echo_server: TcpServer
) -> None:
    a = make_proxy(embedded, "a", echo_server.addr)
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        status, body = raw(
            embedded, "POST", "/proxies/a", {"listen": f"127.0.0.1:{busy.getsockname()[1]}"}
        )
    assert status == 500 and "listen tcp" in body["error"]
    proxy = raw(embedded, "GET", "/proxies/a")[1]
    assert (proxy["listen"], proxy["enabled"]) == (a["listen"], True)
    with connect(a["listen"]) as s:
        assert roundtrip(s) == b"ping"


# -- bodies --------------------------------------------------------------------------------------


def test_bodies_decode_as_go_does(embedded: EmbeddedProxy, echo_server: TcpServer) -> None:
    assert send_raw(embedded, "POST", "/proxies", b"") == (
        400,
        '{"error": "bad request body: EOF", "status": 400}',
    )
    status, text = send_raw(embedded, "POST", "/populate", b"[NaN]")
    assert status == 400 and "bad request body" in text
    body = b'{"name": "t", "upstream": "%s"} trailing' % echo_server.addr.encode()
    assert send_raw(embedded, "POST", "/proxies", body)[0] == 201  # Go reads the first value
    status, text = send_raw(embedded, "POST", "/proxies", b'{"Name": "u", "UPSTREAM": "x:1"}')
    assert status == 201 and '"name": "u"' in text
    status, text = send_raw(embedded, "POST", "/proxies/t", b'{"enabled": null}')
    assert status == 200 and '"enabled": true' in text


def test_browsers_are_refused(embedded: EmbeddedProxy) -> None:
    """Toxiproxy's stopBrowsersMiddleware: a page in a browser cannot drive the API."""
    conn = http.client.HTTPConnection("127.0.0.1", embedded.api_port, timeout=5)
    conn.request("POST", "/reset", headers={"User-Agent": "Mozilla/5.0 (X11; Linux x86_64)"})
    resp = conn.getresponse()
    assert (resp.status, resp.read()) == (403, b"User agent not allowed\n")
    conn.close()
