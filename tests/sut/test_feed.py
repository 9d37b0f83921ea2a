"""The WebSocket feed: strict sequence, resume without gap or duplicate, explicit gap notice,
slow clients dropped without slowing the others, ping/pong."""

from __future__ import annotations

import itertools
import json
import socket
import time
import uuid

import websocket

from tests.conftest import wait_until
from tests.sut.conftest import Launcher, SutInstance
from tests.sut.helpers import http


def connect(url: str, timeout: float = 10.0, **kw: object) -> websocket.WebSocket:
    return websocket.create_connection(url, timeout=timeout, **kw)


def read(ws: websocket.WebSocket, n: int) -> list[dict[str, object]]:
    return [json.loads(ws.recv()) for _ in range(n)]


def read_until_seq(
    ws: websocket.WebSocket, seq: int, limit: int = 20000
) -> list[dict[str, object]]:
    out: list[dict[str, object]] = []
    for _ in range(limit):
        msg = json.loads(ws.recv())
        out.append(msg)
        if int(msg["seq"]) >= seq:  # type: ignore[call-overload]
            return out
    raise AssertionError(f"seq {seq} not reached in {limit} messages")


def test_messages_have_increasing_seq_server_time_and_order_events(sut: SutInstance) -> None:
    ws = connect(sut.ws_url)
    try:
        first = read(ws, 5)
        body = {
            "symbol": "SOLUSD",
            "side": "sell",
            "quantity": 3,
            "price": 150.0,
            "client_order_id": f"feed-{uuid.uuid4().hex[:8]}",
        }
        status, created = http(
            "POST", sut.base_url + "/api/orders", body, {"X-Client-Id": f"f-{uuid.uuid4().hex[:6]}"}
        )
        assert status == 201
        seen = [*first]
        order_event = None
        for _ in range(2000):
            msg = json.loads(ws.recv())
            seen.append(msg)
            if msg["type"] == "order" and msg["data"]["order_id"] == created["order_id"]:
                order_event = msg
                break
        assert order_event is not None, "no order event for the accepted order"
        assert order_event["data"]["client_order_id"] == body["client_order_id"]
        seqs = [int(m["seq"]) for m in seen]
        assert all(b == a + 1 for a, b in itertools.pairwise(seqs)), seqs
        now = time.time()
        for m in seen:
            assert m["type"] in ("quote", "order")
            assert abs(now - float(m["server_time"])) < 30
        quotes = [m for m in seen if m["type"] == "quote"]
        assert quotes and {"symbol", "bid", "ask"} <= set(quotes[0]["data"])
    finally:
        ws.close()


def test_resume_with_since_gets_every_missed_message_once(sut: SutInstance) -> None:
    a = connect(sut.ws_url)
    last = int(read(a, 3)[-1]["seq"])
    a.close()
    observer = connect(f"{sut.ws_url}?since={last}")  # a witness that sees everything after `last`
    try:
        # while "a" is away, the feed moves on (quotes at 50/s, plus an order event)
        http(
            "POST",
            sut.base_url + "/api/orders",
            {"symbol": "BTCUSD", "side": "buy", "quantity": 1, "price": 1, "client_order_id": "r"},
            {"X-Client-Id": f"r-{uuid.uuid4().hex[:6]}"},
        )
        witnessed = read(observer, 40)
        target = int(witnessed[-1]["seq"]) + 20
        resumed_ws = connect(f"{sut.ws_url}?since={last}")
        try:
            resumed = read_until_seq(resumed_ws, target)
        finally:
            resumed_ws.close()
        witnessed += read_until_seq(observer, target) if int(witnessed[-1]["seq"]) < target else []
    finally:
        observer.close()
    seqs = [int(m["seq"]) for m in resumed]
    assert seqs == list(range(last + 1, target + 1)), "gap or duplicate across replay/live"
    assert "order" in {m["type"] for m in resumed}
    by_seq = {int(m["seq"]): (m["type"], m["data"]) for m in witnessed}
    for m in resumed:
        assert by_seq[int(m["seq"])] == (m["type"], m["data"])


def test_since_older_than_buffer_is_reported_as_gap(launcher: Launcher) -> None:
    small = launcher.start(["--quote-rate", "100", "--replay-size", "10"])
    wait_until(lambda: http("GET", small.base_url + "/health")[1]["feed_seq"] > 40, timeout=15)
    ws = connect(f"{small.ws_url}?since=1")
    try:
        gap, *rest = read(ws, 15)
    finally:
        ws.close()
    assert gap["type"] == "gap" and gap["from"] == 2
    assert gap["reason"] == "replay buffer exhausted"
    assert int(gap["to"]) >= 2
    seqs = [int(m["seq"]) for m in rest]
    assert seqs[0] == int(gap["to"]) + 1
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))


def test_ping_is_answered_with_pong(sut: SutInstance) -> None:
    ws = connect(sut.ws_url)
    try:
        ws.ping(b"hello")
        for _ in range(5000):
            opcode, frame = ws.recv_data_frame(control_frame=True)
            if opcode == websocket.ABNF.OPCODE_PONG:
                assert frame.data == b"hello"
                return
        raise AssertionError("no pong")
    finally:
        ws.close()


def test_bad_since_and_plain_http_are_rejected(sut: SutInstance) -> None:
    status, body = http("GET", sut.base_url + "/ws/feed")
    assert status == 426 and body["error"]
    try:
        connect(f"{sut.ws_url}?since=abc")
    except websocket.WebSocketBadStatusException as exc:
        assert exc.status_code == 400
    else:
        raise AssertionError("since=abc was accepted")


def test_slow_client_is_dropped_and_others_keep_receiving(launcher: Launcher) -> None:
    fast_feed = launcher.start(["--quote-rate", "1000", "--ws-queue", "50"])
    # a client that never reads, with a tiny receive buffer: the server's queue for it overflows
    slow = connect(fast_feed.ws_url, sockopt=[(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)])
    normal = connect(fast_feed.ws_url)
    try:

        def dropped() -> bool:
            read(normal, 50)  # the normal client keeps up meanwhile
            return int(http("GET", fast_feed.base_url + "/health")[1]["feed"]["dropped_slow"]) >= 1

        wait_until(dropped, timeout=30, interval=0.05)
        before = int(read(normal, 1)[0]["seq"])
        after = int(read(normal, 100)[-1]["seq"])
        assert after == before + 100
        # the slow client finds its stream ended: a close frame (1013) or a reset after its data
        slow.settimeout(10)
        code = None
        try:
            for _ in range(200000):
                opcode, frame = slow.recv_data_frame(control_frame=True)
                if opcode == websocket.ABNF.OPCODE_CLOSE:
                    code = int.from_bytes(frame.data[:2], "big")
                    break
        except (websocket.WebSocketConnectionClosedException, ConnectionError, OSError):
            code = -1
        assert code in (1013, -1)
    finally:
        slow.close()
        normal.close()


def test_restart_continues_the_sequence_and_replays_across_it(launcher: Launcher) -> None:
    first = launcher.start(["--quote-rate", "100"])
    ws = connect(first.ws_url)
    try:
        last_seen = int(read(ws, 20)[-1]["seq"])
    finally:
        ws.close()
    wait_until(lambda: http("GET", first.base_url + "/health")[1]["feed_seq"] > last_seen + 30)
    assert first.proc.stop() == 0  # SIGTERM: a clean stop flushes the feed's Redis mirror
    second = launcher.start(["--quote-rate", "100"], namespace=(first.schema, first.prefix))
    ws = connect(f"{second.ws_url}?since={last_seen}")
    try:
        msgs = read(ws, 60)
    finally:
        ws.close()
    assert msgs[0]["type"] != "gap", msgs[0]
    seqs = [int(m["seq"]) for m in msgs]
    assert seqs == list(range(last_seen + 1, last_seen + 61)), "gap or duplicate across restart"


def assert_announced_sequence(msgs: list[dict[str, object]], since: int) -> list[dict[str, object]]:
    """Every number after ``since`` once, in order; any jump preceded by a gap notice."""
    expected = since + 1
    gaps = []
    for m in msgs:
        if m["type"] == "gap":
            assert m["from"] == expected, (m, expected)
            gaps.append(m)
            expected = int(m["to"]) + 1  # type: ignore[call-overload]
        else:
            assert m["seq"] == expected, (m["seq"], expected)
            expected += 1
    return gaps


def test_crash_restart_never_reuses_a_sequence_number(launcher: Launcher) -> None:
    first = launcher.start(["--quote-rate", "200"])
    ws = connect(first.ws_url)
    seen = read(ws, 100)
    first.proc.popen.kill()  # SIGKILL: no clean stop, the last feed writes may be lost
    first.proc.popen.wait(10)
    ws.close()
    second = launcher.start(["--quote-rate", "200"], namespace=(first.schema, first.prefix))
    for since in (int(seen[-1]["seq"]), int(seen[40]["seq"])):  # type: ignore[call-overload]
        ws = connect(f"{second.ws_url}?since={since}")
        try:
            msgs = read(ws, 120)
        finally:
            ws.close()
        gaps = assert_announced_sequence(msgs, since)
        assert len(gaps) <= 1
        for gap in gaps:
            assert gap["reason"] == "sequence numbers skipped at a restart", (
                gap,
                since,
                http("GET", second.base_url + "/health")[1],
                second.proc.output(),
            )
