"""Small real upstream servers on loopback for the proxy tests (threads, blocking sockets)."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import wsproto
import wsproto.events as wse


class TcpServer:
    """A threaded TCP server: ``handler(conn)`` runs in a thread per connection."""

    def __init__(self, handler: Callable[[socket.socket], None]) -> None:
        self.handler = handler
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.port = self.sock.getsockname()[1]
        self.addr = f"127.0.0.1:{self.port}"
        self.conns: list[socket.socket] = []
        self._closed = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._closed:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.conns.append(conn)
            threading.Thread(target=self._run, args=(conn,), daemon=True).start()

    def _run(self, conn: socket.socket) -> None:
        try:
            self.handler(conn)
        except OSError:
            pass
        finally:
            conn.close()

    def close(self) -> None:
        self._closed = True
        self.sock.close()
        for c in self.conns:
            try:
                c.close()
            except OSError:
                pass


def echo(conn: socket.socket) -> None:
    while True:
        data = conn.recv(65536)
        if not data:
            return
        conn.sendall(data)


def say_bye(conn: socket.socket) -> None:
    """Send ``bye`` and close at once."""
    conn.sendall(b"bye")


# -- HTTP ------------------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: object) -> None:
        pass

    def _reply(self, body: bytes, status: int = 200, chunked: bool = False) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for i in range(0, len(body), 7):
                part = body[i : i + 7]
                self.wfile.write(f"{len(part):x}\r\n".encode() + part + b"\r\n")
            self.wfile.write(b"0\r\n\r\n")
        else:
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    def do_GET(self) -> None:
        body = json.dumps({"path": self.path, "ok": True}).encode()
        self._reply(body, chunked=self.path.startswith("/chunked"))

    def do_POST(self) -> None:
        n = int(self.headers.get("Content-Length") or 0)
        data = self.rfile.read(n)
        self._reply(json.dumps({"path": self.path, "echo": data.decode()}).encode(), 201)


class HttpServer:
    def __init__(self) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.addr = f"127.0.0.1:{self.port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


# -- WebSocket -------------------------------------------------------------------------------


def ws_feed(conn: socket.socket) -> None:
    """A WebSocket server: on ``"send N"`` it sends N text messages ``{"seq": i}`` then closes.

    Also records the extensions the client asked for in a message ``{"ext": ...}`` on ``"ext"``.
    """
    ws = wsproto.WSConnection(wsproto.ConnectionType.SERVER)
    requested_ext: list[str] = []
    while True:
        data = conn.recv(65536)
        if not data:
            return
        ws.receive_data(data)
        for ev in ws.events():
            if isinstance(ev, wse.Request):
                requested_ext = [str(e) for e in ev.extensions]
                conn.sendall(ws.send(wse.AcceptConnection()))
            elif isinstance(ev, wse.TextMessage):
                text = str(ev.data)
                if text == "ext":
                    conn.sendall(ws.send(wse.TextMessage(json.dumps({"ext": requested_ext}))))
                elif text.startswith("send "):
                    n = int(text.split()[1])
                    out = b"".join(
                        ws.send(wse.TextMessage(json.dumps({"seq": i}))) for i in range(n)
                    )
                    conn.sendall(out + ws.send(wse.CloseConnection(code=1000)))
            elif isinstance(ev, wse.Ping):
                conn.sendall(ws.send(ev.response()))
            elif isinstance(ev, wse.CloseConnection):
                try:
                    conn.sendall(ws.send(ev.response()))
                except Exception:
                    pass
                return


# -- a fake real Toxiproxy (answers /version like Toxiproxy 2.x, no chaosbench header) -------


class FakeToxiproxy:
    def __init__(self) -> None:
        self.requests: list[tuple[str, str]] = []
        outer = self

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:
                pass

            def _send(self, status: int, body: bytes, ctype: str) -> None:
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                outer.requests.append(("GET", self.path))
                if self.path == "/version":
                    self._send(200, b"2.9.0", "text/plain;charset=utf-8")
                else:
                    self._send(
                        404, b'{"error":"proxy not found","status":404}\n', "application/json"
                    )

            def do_POST(self) -> None:
                n = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(n) or b"{}")
                outer.requests.append(("POST", self.path))
                if self.path.endswith("/toxics"):
                    self._send(200, json.dumps(body).encode(), "application/json")
                else:
                    self._send(
                        404, b'{"error":"proxy not found","status":404}\n', "application/json"
                    )

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
