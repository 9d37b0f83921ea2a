"""Conformance: the independent ``toxiproxy-python`` library drives the embedded proxy, and the
raw API answers with Toxiproxy's status codes and JSON shapes."""

from __future__ import annotations

import http.client
import json
import socket
from typing import Any

import pytest
import redis
from toxiproxy import Toxiproxy
from toxiproxy.api import APIConsumer
from toxiproxy.exceptions import InvalidToxic, NotFound, ProxyExists

from chaosbench.proxy import EmbeddedProxy
from tests.conftest import port_open
from tests.proxy.conftest import port_of


@pytest.fixture
def toxiproxy(embedded: EmbeddedProxy) -> Toxiproxy:
    server = Toxiproxy()
    server.update_api_consumer("127.0.0.1", embedded.api_port)
    return server


def raw(embedded: EmbeddedProxy, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    conn = http.client.HTTPConnection("127.0.0.1", embedded.api_port, timeout=5)
    payload = None if body is None else json.dumps(body)
    conn.request(method, path, body=payload)
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    try:
        return resp.status, json.loads(data) if data else None
    except ValueError:
        return resp.status, data.decode()


def test_toxiproxy_python_drives_the_embedded_proxy(toxiproxy: Toxiproxy, redis_url: str) -> None:
    assert toxiproxy.running()
    assert json.loads(toxiproxy.version())["version"].startswith("2.")

    proxy = toxiproxy.create(upstream="127.0.0.1:6379", name="conf_redis")
    assert proxy.listen.startswith("127.0.0.1:") and not proxy.listen.endswith(":0")
    assert proxy.enabled is True
    assert set(toxiproxy.proxies()) == {"conf_redis"}
    with pytest.raises(ProxyExists):
        toxiproxy.create(upstream="127.0.0.1:6379", name="conf_redis")

    r = redis.Redis(port=port_of(proxy.listen), socket_timeout=5)
    assert r.ping()

    proxy.add_toxic(type="latency", attributes={"latency": 40, "jitter": 5})
    proxy.add_toxic(type="bandwidth", stream="upstream", name="bw", attributes={"rate": 1000})
    toxics = proxy.toxics()
    assert set(toxics) == {"latency_downstream", "bw"}
    lat = toxics["latency_downstream"]
    assert (lat.type, lat.stream, lat.toxicity) == ("latency", "downstream", 1.0)
    assert lat.attributes == {"latency": 40, "jitter": 5}
    assert toxics["bw"].stream == "upstream"
    assert proxy.get_toxic("nope") is None
    with pytest.raises(ProxyExists):  # 409: toxic already exists
        proxy.add_toxic(type="latency", attributes={"latency": 1})
    with pytest.raises(InvalidToxic):  # 400: invalid toxic type
        proxy.add_toxic(type="no_such_toxic")
    assert r.ping()

    proxy.destroy_toxic("latency_downstream")
    assert set(proxy.toxics()) == {"bw"}
    with pytest.raises(NotFound):
        proxy.destroy_toxic("latency_downstream")

    with proxy.down():
        assert toxiproxy.get_proxy("conf_redis").enabled is False
        assert not port_open(port_of(proxy.listen))
    assert toxiproxy.get_proxy("conf_redis").enabled is True
    assert redis.Redis(port=port_of(proxy.listen), socket_timeout=5).ping()

    toxiproxy.reset()
    assert proxy.toxics() == {}

    populated = toxiproxy.populate(
        [{"name": "conf_b", "upstream": "127.0.0.1:6379", "listen": "127.0.0.1:0"}]
    )
    assert [p.name for p in populated] == ["conf_b"]
    assert set(toxiproxy.proxies()) == {"conf_redis", "conf_b"}

    toxiproxy.destroy_all()
    assert toxiproxy.proxies() == {}
    with pytest.raises(NotFound):
        APIConsumer.get("/proxies/conf_redis")


def test_raw_api_shapes_and_status_codes(embedded: EmbeddedProxy) -> None:
    status, body = raw(embedded, "GET", "/version")
    assert status == 200 and body["version"].startswith("2.")  # Toxiproxy >= 2.7: JSON

    assert raw(embedded, "POST", "/proxies", {"upstream": "127.0.0.1:6379"}) == (
        400,
        {"error": "missing required field: name", "status": 400},
    )
    assert raw(embedded, "POST", "/proxies", {"name": "a"})[1]["error"] == (
        "missing required field: upstream"
    )
    status, body = raw(
        embedded, "POST", "/proxies", {"name": "a", "listen": "0.0.0.0:0", "upstream": "x:1"}
    )
    assert status == 400 and "loopback" in body["error"]

    status, body = raw(
        embedded, "POST", "/proxies", {"name": "a", "listen": "127.0.0.1:0", "upstream": "x:1"}
    )
    assert status == 201
    assert set(body) >= {"name", "listen", "upstream", "enabled", "toxics"}
    assert body["toxics"] == [] and body["enabled"] is True
    status, body = raw(embedded, "GET", "/proxies")
    assert status == 200 and set(body) == {"a"}

    assert raw(embedded, "GET", "/proxies/zz") == (404, {"error": "proxy not found", "status": 404})
    assert raw(embedded, "GET", "/proxies/a/toxics/zz")[0] == 404
    assert raw(
        embedded, "POST", "/proxies/a/toxics", {"type": "latency", "stream": "sideways"}
    ) == (
        400,
        {"error": "stream was invalid, can be either upstream or downstream", "status": 400},
    )
    status, body = raw(
        embedded, "POST", "/proxies/a/toxics", {"type": "slicer", "attributes": {"delay": 5}}
    )
    assert status == 200
    assert body == {
        "name": "slicer_downstream",
        "type": "slicer",
        "stream": "downstream",
        "toxicity": 1.0,
        "attributes": {"average_size": 0, "size_variation": 0, "delay": 5},
    }
    status, body = raw(
        embedded,
        "POST",
        "/proxies/a/toxics/slicer_downstream",
        {"attributes": {"average_size": 8}, "toxicity": 0.5},
    )
    assert status == 200
    assert body["attributes"] == {"average_size": 8, "size_variation": 0, "delay": 5}
    assert body["toxicity"] == 0.5
    status, body = raw(embedded, "POST", "/proxies/a/toxics", {"type": "latency", "toxicity": 2})
    assert status == 400 and "toxicity" in body["error"]
    status, body = raw(
        embedded, "POST", "/proxies/a/toxics", {"type": "latency", "attributes": {"latency": "x"}}
    )
    assert status == 400 and "latency" in body["error"]

    status, body = raw(embedded, "POST", "/proxies/a", {"enabled": False})
    assert status == 200 and body["enabled"] is False
    assert raw(embedded, "POST", "/reset") == (204, None)
    assert raw(embedded, "GET", "/proxies/a")[1]["enabled"] is True
    assert raw(embedded, "GET", "/proxies/a/toxics") == (200, [])

    status, body = raw(
        embedded,
        "POST",
        "/populate",
        [{"name": "b", "listen": "127.0.0.1:0", "upstream": "x:2"}, {"name": "c"}],
    )
    assert status == 400 and body["error"] == "missing required field: upstream at proxy 2"
    assert "b" not in raw(embedded, "GET", "/proxies")[1]  # populate is all or nothing

    assert raw(embedded, "PUT", "/proxies/a")[0] == 405
    assert raw(embedded, "GET", "/nothing/here")[0] == 404
    assert raw(embedded, "DELETE", "/proxies/a") == (204, None)
    assert raw(embedded, "DELETE", "/proxies/a")[0] == 404


def test_listen_port_in_use_is_a_clear_error(embedded: EmbeddedProxy) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        busy = s.getsockname()[1]
        status, body = raw(
            embedded,
            "POST",
            "/proxies",
            {"name": "busy", "listen": f"127.0.0.1:{busy}", "upstream": "127.0.0.1:1"},
        )
    assert status == 500 and f"127.0.0.1:{busy}" in body["error"]
    assert "busy" not in raw(embedded, "GET", "/proxies")[1]
