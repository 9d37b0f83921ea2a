"""WebSocket toxics on a ``protocol: http`` route (upgrade passed through, server messages
parsed): shares of dropped / corrupted messages match the rate (binomial, 4 sigma); reorder
loses nothing; delay is as configured; with no toxic every message arrives intact."""

from __future__ import annotations

import itertools
import json
import time

import websocket
from websocket import ABNF

from chaosbench.proxy import ToxiproxyClient
from tests.proxy.conftest import port_of


def within_4_sigma(hits: int, n: int, p: float) -> bool:
    sigma = (n * p * (1 - p)) ** 0.5
    return abs(hits - n * p) <= 4 * sigma + 1


def ws_route(client: ToxiproxyClient, upstream_addr: str) -> str:
    info = client.create_proxy("feed", "127.0.0.1:0", upstream_addr, protocol="http")
    return f"ws://127.0.0.1:{port_of(info.listen)}/feed"


def receive_all(url: str, n: int, timeout: float = 20.0) -> list[str]:
    """Ask the server for n messages; collect text messages until its close frame."""
    ws = websocket.create_connection(url, timeout=timeout)
    ws.send(f"send {n}")
    out: list[str] = []
    while True:
        opcode, data = ws.recv_data()
        if opcode == ABNF.OPCODE_CLOSE:
            break
        out.append(data.decode())
    ws.close()
    return out


def seqs(messages: list[str]) -> list[int]:
    return [json.loads(m)["seq"] for m in messages]


def test_websocket_passes_through_intact(client: ToxiproxyClient, ws_server) -> None:
    url = ws_route(client, ws_server.addr)
    assert seqs(receive_all(url, 500)) == list(range(500))
    ws = websocket.create_connection(url, timeout=5)
    ws.ping("hi")
    ws.send("ext")
    assert json.loads(ws.recv()) == {"ext": []}
    ws.close()


def test_compression_is_not_negotiated_through_the_proxy(client: ToxiproxyClient, ws_server):
    url = ws_route(client, ws_server.addr)
    ws = websocket.create_connection(
        url, timeout=5, header=["Sec-WebSocket-Extensions: permessage-deflate"]
    )
    ws.send("ext")
    assert json.loads(ws.recv()) == {"ext": []}  # stripped: drop/corrupt stay sound
    ws.close()


def test_ws_drop_rate(client: ToxiproxyClient, ws_server) -> None:
    url = ws_route(client, ws_server.addr)
    client.add_toxic("feed", "ws_drop", {"rate": 0.25, "seed": 3})
    n = 600
    got = seqs(receive_all(url, n))
    assert got == sorted(got) and len(set(got)) == len(got)  # drops only, no reordering
    assert within_4_sigma(n - len(got), n, 0.25), n - len(got)
    client.remove_toxic("feed", "ws_drop_downstream")
    assert seqs(receive_all(url, 200)) == list(range(200))


def test_ws_drop_removal_applies_to_an_open_connection(client: ToxiproxyClient, ws_server):
    url = ws_route(client, ws_server.addr)
    ws = websocket.create_connection(url, timeout=10)
    client.add_toxic("feed", "ws_drop", {"rate": 1.0})
    ws.send("ext")
    ws.settimeout(0.3)
    try:
        ws.recv()
        raise AssertionError("message was not dropped")
    except websocket.WebSocketTimeoutException:
        pass
    client.remove_toxic("feed", "ws_drop_downstream")
    ws.settimeout(5)
    ws.send("ext")
    assert json.loads(ws.recv()) == {"ext": []}
    ws.close()


def test_ws_corrupt_rate(client: ToxiproxyClient, ws_server) -> None:
    url = ws_route(client, ws_server.addr)
    client.add_toxic("feed", "ws_corrupt", {"rate": 0.2, "seed": 9})
    n = 500
    messages = receive_all(url, n)
    assert len(messages) == n
    bad = 0
    for m in messages:
        try:
            json.loads(m)
        except ValueError:
            bad += 1
    assert within_4_sigma(bad, n, 0.2), bad


def test_ws_reorder_loses_nothing(client: ToxiproxyClient, ws_server) -> None:
    url = ws_route(client, ws_server.addr)
    client.add_toxic("feed", "ws_reorder", {"rate": 0.1, "window": 3, "seed": 4})
    n = 400
    got = seqs(receive_all(url, n))
    assert sorted(got) == list(range(n))
    out_of_order = sum(1 for a, b in itertools.pairwise(got) if b < a)
    assert out_of_order >= 10, out_of_order  # about 0.1 * 400 held back
    assert max(abs(pos - seq) for pos, seq in enumerate(got)) <= 3


def test_ws_delay(client: ToxiproxyClient, ws_server) -> None:
    url = ws_route(client, ws_server.addr)
    ws = websocket.create_connection(url, timeout=10)
    client.add_toxic("feed", "ws_delay", {"delay_ms": 200, "rate": 1.0})
    samples = []
    for _ in range(3):
        t = time.perf_counter()
        ws.send("ext")
        ws.recv()
        samples.append(time.perf_counter() - t)
    assert all(0.18 <= s <= 0.6 for s in samples), samples
    client.remove_toxic("feed", "ws_delay_downstream")
    t = time.perf_counter()
    ws.send("ext")
    ws.recv()
    assert time.perf_counter() - t < 0.15
    ws.close()


def test_http_error_on_the_upgrade_request(client: ToxiproxyClient, ws_server) -> None:
    url = ws_route(client, ws_server.addr)
    client.add_toxic("feed", "http_error", {"status": 503, "paths_include": ["/feed"]})
    try:
        websocket.create_connection(url, timeout=5)
        raise AssertionError("handshake was not refused")
    except websocket.WebSocketBadStatusException as exc:
        assert exc.status_code == 503


def test_ws_reorder_releases_a_held_message_when_the_stream_is_quiet(
    client: ToxiproxyClient, ws_server
) -> None:
    url = ws_route(client, ws_server.addr)
    ws = websocket.create_connection(url, timeout=5)
    client.add_toxic("feed", "ws_reorder", {"rate": 1.0, "window": 5, "max_hold_ms": 300})
    t = time.perf_counter()
    ws.send("ext")
    assert json.loads(ws.recv()) == {"ext": []}  # held, then released by the idle tick
    assert 0.25 <= time.perf_counter() - t <= 1.5
    ws.close()
