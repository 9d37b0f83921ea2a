"""A user greenlet killed (GreenletExit, as Locust stops a user) while it closes a WebSocket
whose server never answers the close frame: with chaosbench's ``close_socket`` it ends there;
websocket-client's own ``close()`` swallows the GreenletExit in its bare ``except`` and the
greenlet runs on (shown for the record: it is why ``close_socket`` exists)."""

from _common import emit  # isort: skip

import base64
import hashlib

import gevent
import websocket
from gevent.server import StreamServer

from chaosbench.users.websocket_user import close_socket

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
held: list[object] = []


def handshake_then_silence(sock: object, _addr: object) -> None:
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(4096)  # type: ignore[attr-defined]
    key = next(
        line.split(b":", 1)[1].strip()
        for line in data.split(b"\r\n")
        if line.lower().startswith(b"sec-websocket-key")
    )
    accept = base64.b64encode(hashlib.sha1(key + GUID.encode()).digest()).decode()
    sock.sendall(  # type: ignore[attr-defined]
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Accept: {accept}\r\n\r\n".encode()
    )
    held.append(sock)
    gevent.sleep(30)  # never answers the close frame


server = StreamServer(("127.0.0.1", 0), handshake_then_silence)
server.start()
url = f"ws://127.0.0.1:{server.server_port}/"


def attempt(close: object) -> dict:
    ws = websocket.create_connection(url, timeout=5)
    after: list[bool] = []

    def user() -> None:
        close(ws)  # type: ignore[operator]
        after.append(True)  # a stopped user never gets here
        gevent.sleep(10)  # a user that runs on

    g = gevent.spawn(user)
    gevent.sleep(0.3)  # inside the close: waiting for the server's close frame
    g.kill(block=True, timeout=3)
    return {"dead": g.dead, "ran_on": bool(after), "socket_closed": ws.sock is None}


out = {
    "close_socket": attempt(lambda ws: close_socket(ws, timeout=5.0)),
    "library_close": attempt(lambda ws: ws.close(timeout=5.0)),
}
server.stop()
emit(out)
