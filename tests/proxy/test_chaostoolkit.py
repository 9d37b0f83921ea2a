"""Conformance: Chaos Toolkit's toxiproxy extension (``chaostoolkit-toxiproxy``, PyPI) drives the
embedded proxy through its own actions and probes: create, modify, disable and enable, read,
every TCP toxic it has, delete toxic, reset, delete. Traffic goes through the proxy to an echo
server on loopback; a ``limit_data`` toxic shows when toxics are live."""

from __future__ import annotations

import socket

import pytest
from chaostoxi.proxy import actions as proxy_actions
from chaostoxi.proxy import probes as proxy_probes
from chaostoxi.toxic import actions as toxic_actions

from chaosbench.proxy import EmbeddedProxy, ToxiproxyClient
from tests.conftest import free_port, port_open
from tests.proxy.conftest import recv_exactly
from tests.proxy.servers import TcpServer


def echo_through(port: int, data: bytes = b"hello world") -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(data)
        return recv_exactly(s, len(data))


def test_chaostoolkit_toxiproxy_drives_the_embedded_proxy(
    embedded: EmbeddedProxy, echo_server: TcpServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    config: dict[str, object] = {"toxiproxy_url": embedded.url}
    for name in ("ctk_a", "ctk_wide"):
        monkeypatch.setenv(f"{name}_PORT", "")  # the extension writes <name>_PORT to os.environ
    host, upstream_port = echo_server.addr.split(":")
    port = free_port()

    with pytest.raises(AssertionError):  # its default listen host 0.0.0.0: loopback only here
        proxy_actions.create_proxy("ctk_wide", host, int(upstream_port), configuration=config)
    assert proxy_probes.proxy_exist("ctk_wide", configuration=config) is False

    assert proxy_actions.create_proxy(
        "ctk_a", host, int(upstream_port), "127.0.0.1", port, configuration=config
    )
    assert config["ctk_a_PORT"] == str(port)
    assert proxy_probes.proxy_exist("ctk_a", configuration=config) is True
    assert proxy_probes.get_proxy_attribute("ctk_a", "upstream", configuration=config) == (
        echo_server.addr
    )
    assert echo_through(port) == b"hello world"

    assert proxy_actions.disable_proxy("ctk_a", configuration=config)
    assert proxy_probes.get_proxy_attribute("ctk_a", "enabled", configuration=config) is False
    assert not port_open(port)
    assert proxy_actions.enable_proxy("ctk_a", configuration=config)
    assert echo_through(port) == b"hello world"
    # the same address by name: no new listener, the port stays
    assert proxy_actions.modify_proxy("ctk_a", f"localhost:{port}", configuration=config)
    assert config["ctk_a_PORT"] == str(port)

    made = [
        toxic_actions.create_latency_toxic("ctk_a", "lat", 0, 0, configuration=config),
        toxic_actions.create_bandwith_degradation_toxic("ctk_a", "bw", 0, configuration=config),
        toxic_actions.create_slow_connection_close_toxic("ctk_a", "sc", 0, configuration=config),
        toxic_actions.create_slicer_toxic("ctk_a", "sl", 4, 1, 0, configuration=config),
        toxic_actions.create_limiter_toxic("ctk_a", "cut", 4, configuration=config),
        toxic_actions.create_toxic(
            "ctk_a", "up", "latency", stream="upstream", attributes=None, configuration=config
        ),
    ]
    assert made == [True] * 6
    toxics = ToxiproxyClient(embedded.url).toxics("ctk_a")
    assert [t.name for t in toxics] == ["up", "lat", "bw", "sc", "sl", "cut"]
    assert {t.name: t.attributes for t in toxics}["sl"] == {
        "average_size": 4,
        "size_variation": 1,
        "delay": 0,
    }
    assert echo_through(port) == b"hell"  # limit_data: 4 bytes, then closed

    assert toxic_actions.delete_toxic("ctk_a", "cut", configuration=config) is True
    assert toxic_actions.delete_toxic("ctk_a", "cut", configuration=config) is False  # 404
    assert echo_through(port) == b"hello world"
    assert toxic_actions.create_timeout_toxic("ctk_a", "to", 0, configuration=config)
    assert proxy_actions.reset(configuration=config) is True
    assert ToxiproxyClient(embedded.url).toxics("ctk_a") == []
    assert echo_through(port) == b"hello world"

    proxy_actions.delete_proxy("ctk_a", configuration=config)
    assert proxy_probes.proxy_exist("ctk_a", configuration=config) is False
    assert ToxiproxyClient(embedded.url).proxies() == {}
    assert not port_open(port)
