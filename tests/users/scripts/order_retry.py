"""OrderApiUser.place_order against a server whose first answer to a placement comes too late:
the user retries with the same Idempotency-Key and records the order once."""

from _common import ROOT, emit, make_env  # isort: skip

import json
import sys
import time

import gevent
from gevent.server import StreamServer

sys.path.insert(0, str(ROOT / "locustfiles"))
from gateway_api import OrderApiUser

from chaosbench.ground.state import RunState

seen: list[str] = []


def handle(sock, _addr):  # type: ignore[no-untyped-def]
    buf = b""
    while True:
        data = sock.recv(65536)
        if not data:
            return
        buf += data
        if b"\r\n\r\n" not in buf:
            continue
        head, rest = buf.split(b"\r\n\r\n", 1)
        headers = dict(
            line.decode().split(": ", 1) for line in head.split(b"\r\n")[1:] if b": " in line
        )
        length = int(headers.get("Content-Length", headers.get("content-length", "0")))
        while len(rest) < length:
            rest += sock.recv(65536)
        buf = rest[length:]
        key = headers.get("Idempotency-Key", headers.get("idempotency-key", ""))
        order = json.loads(rest[:length])
        replay = key in seen
        seen.append(key)
        if not replay:
            gevent.sleep(1.5)  # placed, but the answer comes after the client's timeout
        body = json.dumps(
            {
                "order_id": f"o-{key[:8]}",
                "client_order_id": order["client_order_id"],
                "server_time": time.time(),
            }
        ).encode()
        extra = b"Idempotent-Replayed: true\r\n" if replay else b""
        sock.sendall(
            b"HTTP/1.1 201 Created\r\nContent-Type: application/json\r\n"
            + extra
            + b"Content-Length: "
            + str(len(body)).encode()
            + b"\r\n\r\n"
            + body
        )


server = StreamServer(("127.0.0.1", 0), handle)
server.start()


class Orders(OrderApiUser):
    host = f"http://127.0.0.1:{server.server_port}"
    network_timeout = 0.5


env, rec = make_env([Orders])
user = Orders(env)
user.on_start()
user.place_order()
emit(
    {
        "keys": seen,
        "events": [[e["name"], e["exception"]] for e in rec.events],
        "acked": dict(RunState.of(env).counters.acked_orders),
        "kept": list(user.order_ids),
    }
)
