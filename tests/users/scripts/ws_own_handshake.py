"""WebSocketUser's connects against a server that sends its first frame in the same send as the
101 answer: a message on ``/feed`` (the subscription's connect, by the user's own handshake for
``ws://127.0.0.1`` and by websocket-client's for ``ws://localhost``), the close frame on
``/cycle`` (a connect cycle, whose closing handshake must find it at once, not wait out its
timeout). Prints what each user got and what the server received."""

from _common import emit, make_env, wait_for  # isort: skip

import json
import time

from gevent.server import StreamServer
from locust import task

from chaosbench.users import WebSocketUser
from chaosbench.users.websocket_user import FrameReader
from chaosbench.users.wshandshake import accept_key

received: dict[str, list[object]] = {"/feed": [], "/cycle": []}


def frame(payload: bytes, opcode: int) -> bytes:
    return bytes([0x80 | opcode, len(payload)]) + payload  # unmasked, under 126 bytes


def handle(sock: object, _addr: object) -> None:
    head = b""
    while b"\r\n\r\n" not in head:
        head += sock.recv(4096)  # type: ignore[attr-defined]
    head, rest = head.split(b"\r\n\r\n", 1)
    lines = head.split(b"\r\n")
    path = lines[0].split(b" ")[1].decode().split("?")[0]
    key = next(
        ln.split(b":", 1)[1].strip() for ln in lines if ln.lower().startswith(b"sec-websocket-key:")
    )
    answer = (
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        b"Sec-WebSocket-Accept: " + accept_key(key).encode() + b"\r\n\r\n"
    )
    if path == "/feed":
        msg = {"seq": 1, "type": "quote", "server_time": time.time(), "data": {}}
        answer += frame(json.dumps(msg).encode(), 0x1)
    else:
        answer += frame(b"\x03\xe8", 0x8)
    sock.sendall(answer)  # type: ignore[attr-defined]
    reader = FrameReader(sock, initial=rest)
    try:
        while True:  # what the client sends, until it goes; the server itself stays silent
            received[path].append(list(reader.next()))
    except (ConnectionError, OSError):
        pass


server = StreamServer(("127.0.0.1", 0), handle)
server.start()
port = server.server_port


class Feed(WebSocketUser):
    ws_url = f"ws://127.0.0.1:{port}/feed"
    subscribe_message = '{"op": "subscribe"}'

    @task
    def hold(self) -> None:
        pass


class NamedFeed(Feed):
    ws_url = f"ws://localhost:{port}/feed"  # a name: websocket-client's connect and handshake


class Cycle(Feed):
    ws_url = f"ws://127.0.0.1:{port}/cycle"


env, rec = make_env([Feed, NamedFeed, Cycle])
out: dict = {}
for name, cls in (("feed", Feed), ("named", NamedFeed)):
    user = cls(env)
    ok = user._open(since=None, name="connect")
    assert user.ws is not None
    opcode, payload = user._read(user.ws)
    out[name] = {
        "ok": ok,
        "first": [opcode, json.loads(payload)["type"]],
        "own_handshake": user.ws.handshake_response is None,  # websocket-client's sets it
    }
    user._close()
wait_for(lambda: len(received["/feed"]) >= 2, what="the subscriptions")
out["subscribed"] = [[op, bytes(p).decode()] for op, p in received["/feed"]]

cycle = Cycle(env)
t0 = time.monotonic()
ok = cycle.connect_cycle()
out["cycle"] = {"ok": ok, "seconds": time.monotonic() - t0}
wait_for(lambda: received["/cycle"], what="the client's close frame")
out["cycle"]["client_sent"] = [op for op, _ in received["/cycle"]]
out["failures"] = [e["exception"] for e in rec.events if e["exception"]]
server.stop()
emit(out)
