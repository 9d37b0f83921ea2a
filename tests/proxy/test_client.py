"""ToxiproxyClient: typed results, one-line ProxyErrors, extension toxics refused against a
real Toxiproxy (a small real HTTP server answering like Toxiproxy 2.x) before anything is sent."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from chaosbench.ground.errors import ProxyError
from chaosbench.proxy import ProxySpec, ToxiproxyClient
from chaosbench.proxy.toxics import extension_types
from tests.conftest import free_port
from tests.proxy.servers import FakeToxiproxy


@pytest.fixture
def fake() -> Iterator[FakeToxiproxy]:
    srv = FakeToxiproxy()
    yield srv
    srv.close()


def test_client_round_trip(client: ToxiproxyClient) -> None:
    assert client.is_embedded()
    assert client.version().startswith("2.")
    info = client.create_proxy("web", "127.0.0.1:0", "127.0.0.1:1", protocol="http")
    assert info.protocol == "http" and info.enabled and info.listen != "127.0.0.1:0"
    [b] = client.populate([ProxySpec("pg", "127.0.0.1:0", "127.0.0.1:5432")])
    assert b.name == "pg" and b.protocol == "tcp"
    assert set(client.proxies()) == {"web", "pg"}

    name = client.add_toxic("web", "http_error", {"status": 429, "rate": 0.5, "retry_after": 2})
    assert name == "http_error_downstream"
    assert client.add_toxic("pg", "latency", {"latency": 10}, "upstream", 0.5, "lat") == "lat"
    [t] = client.toxics("pg")
    assert (t.name, t.type, t.stream, t.toxicity, t.attributes["latency"]) == (
        "lat",
        "latency",
        "upstream",
        0.5,
        10,
    )
    updated = client.update_toxic("pg", "lat", {"jitter": 3}, toxicity=1.0)
    assert updated.attributes == {"latency": 10, "jitter": 3} and updated.toxicity == 1.0
    assert client.toxic("pg", "lat") == updated
    assert client.toxic("pg", "gone") is None

    client.remove_toxic("pg", "lat")
    client.remove_toxic("pg", "lat")  # idempotent
    client.remove_toxic("no_such_proxy", "lat")  # idempotent too
    assert client.toxics("pg") == []

    assert client.set_enabled("pg", False).enabled is False
    client.reset()
    assert client.proxy("pg").enabled is True
    assert client.toxics("web") == []

    client.delete_proxy("pg")
    client.delete_proxy("pg")  # idempotent
    assert set(client.proxies()) == {"web"}


def test_errors_are_one_line_and_name_what_failed(client: ToxiproxyClient) -> None:
    client.create_proxy("db", "127.0.0.1:0", "127.0.0.1:5432")
    with pytest.raises(ProxyError) as err:
        client.create_proxy("db", "127.0.0.1:0", "127.0.0.1:5432")
    assert "proxy 'db'" in str(err.value) and "proxy already exists" in str(err.value)

    with pytest.raises(ProxyError) as err:
        client.add_toxic("db", "latency", {"latency": "1", "jitter": 2})  # a string: as Go, refused
    msg = str(err.value)
    assert "\n" not in msg and "latency_downstream" in msg and "attribute latency" in msg

    with pytest.raises(ProxyError) as err:
        client.add_toxic("db", "ws_drop", {"rate": 0.5})  # needs protocol http
    assert "protocol http" in str(err.value)

    with pytest.raises(ProxyError) as err:
        client.add_toxic("nope", "latency", {})
    assert "proxy 'nope'" in str(err.value) and "proxy not found" in str(err.value)

    with pytest.raises(ProxyError, match="toxicity"):
        client.add_toxic("db", "latency", {}, toxicity=1.5)
    with pytest.raises(ProxyError, match="stream"):
        client.add_toxic("db", "latency", {}, stream="both")
    with pytest.raises(ProxyError, match="loopback"):
        client.create_proxy("wide", "0.0.0.0:0", "127.0.0.1:5432")


def test_unreachable_api_is_a_proxy_error() -> None:
    c = ToxiproxyClient(f"127.0.0.1:{free_port()}", timeout=1.0)
    with pytest.raises(ProxyError, match="unreachable"):
        c.proxies()
    with pytest.raises(ProxyError, match="not http://host:port"):
        ToxiproxyClient("ftp://x")


def test_extension_toxics_refused_against_a_real_toxiproxy(fake: FakeToxiproxy) -> None:
    c = ToxiproxyClient(fake.url)
    assert c.version() == "2.9.0"
    assert c.is_embedded() is False
    for toxic_type in sorted(extension_types()):
        with pytest.raises(ProxyError) as err:
            c.add_toxic("api", toxic_type, {"rate": 0.5})
        assert str(err.value) == (
            f"toxic type {toxic_type!r} is an extension of chaosbench's embedded proxy; "
            "a real Toxiproxy does not have it"
        )
    with pytest.raises(ProxyError, match="extension"):
        c.create_proxy("api", "127.0.0.1:0", "127.0.0.1:8000", protocol="http")
    assert not [r for r in fake.requests if r[0] == "POST"]  # refused before sending

    assert c.add_toxic("api", "latency", {"latency": 5}) == "latency_downstream"
    assert ("POST", "/proxies/api/toxics") in fake.requests


def test_api_port_in_use_is_a_one_line_proxy_error() -> None:
    import socket

    from chaosbench.proxy import EmbeddedProxy

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        with pytest.raises(ProxyError) as err:
            EmbeddedProxy(f"127.0.0.1:{port}").start()
    assert f"127.0.0.1:{port}" in str(err.value) and "\n" not in str(err.value)
    with pytest.raises(ProxyError, match="loopback"):
        EmbeddedProxy("192.0.2.1:8474")
