"""A small HTTP/1.1 server: h11 for the protocol, gevent's StreamServer for the sockets.

Keep-alive and pipelining work (h11 cycles the connection after each response); bodies are capped;
an idle connection is closed after ``idle_timeout``; a request asking for a protocol upgrade on a
path with an upgrade handler is handed the socket (the WebSocket feed).
"""

from __future__ import annotations

import json
import logging
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, urlsplit

import gevent.server
import h11

log = logging.getLogger("chaosbench.sut.http")

_REASONS = {
    200: b"OK",
    201: b"Created",
    400: b"Bad Request",
    404: b"Not Found",
    405: b"Method Not Allowed",
    413: b"Payload Too Large",
    422: b"Unprocessable Entity",
    426: b"Upgrade Required",
    429: b"Too Many Requests",
    500: b"Internal Server Error",
    503: b"Service Unavailable",
}


@dataclass
class Request:
    method: str
    target: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    client: str
    body: bytes = b""


@dataclass
class Response:
    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)
    content_type: str = "application/json"


def json_response(
    status: int, obj: object, headers: list[tuple[str, str]] | None = None
) -> Response:
    return Response(status, json.dumps(obj, separators=(",", ":")).encode(), headers or [])


def error_response(
    status: int,
    message: str,
    field_name: str | None = None,
    headers: list[tuple[str, str]] | None = None,
) -> Response:
    return json_response(status, {"error": message, "field": field_name}, headers)


App = Callable[[Request], Response]
UpgradeHandler = Callable[[Request, socket.socket, h11.Connection], None]


class _Closed(Exception):
    pass


class HttpServer:
    def __init__(
        self,
        host: str,
        port: int,
        app: App,
        upgrades: dict[str, UpgradeHandler],
        max_body: int,
        idle_timeout: float,
    ) -> None:
        self.app = app
        self.upgrades = upgrades
        self.max_body = max_body
        self.idle_timeout = idle_timeout
        self.server = gevent.server.StreamServer((host, port), self._handle, backlog=1024)

    @property
    def port(self) -> int:
        return int(self.server.server_port)

    def start(self) -> None:
        self.server.start()

    def stop(self, timeout: float = 2.0) -> None:
        self.server.stop(timeout=timeout)

    def _handle(self, sock: socket.socket, addr: tuple[str, int]) -> None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.settimeout(self.idle_timeout)
        conn = h11.Connection(h11.SERVER, max_incomplete_event_size=16384)
        peer = addr[0] if addr else "unknown"
        try:
            while self._serve_one(sock, conn, peer):
                pass
        except (_Closed, OSError):
            pass
        except h11.ProtocolError as exc:
            log.debug("connection from %s dropped: %s", peer, exc)
        finally:
            try:
                sock.close()
            except OSError:
                pass

    def _next_event(self, sock: socket.socket, conn: h11.Connection) -> object:
        while True:
            event = conn.next_event()
            if event is not h11.NEED_DATA:
                return event
            try:
                data = sock.recv(65536)
            except TimeoutError:
                raise _Closed() from None
            conn.receive_data(data)

    def _serve_one(self, sock: socket.socket, conn: h11.Connection, peer: str) -> bool:
        """Serve one request; False when the connection is done."""
        try:
            event = self._next_event(sock, conn)
            if isinstance(event, h11.ConnectionClosed) or event is h11.PAUSED:
                return False
            if not isinstance(event, h11.Request):
                return False
            url = urlsplit(event.target.decode("latin-1"))
            headers: dict[str, str] = {}
            for name, value in event.headers:
                headers[name.decode("latin-1").lower()] = value.decode("latin-1")
            request = Request(
                method=event.method.decode("ascii"),
                target=event.target.decode("latin-1"),
                path=url.path,
                query=dict(parse_qsl(url.query)),
                headers=headers,
                client=headers.get("x-client-id") or peer,
            )
            if conn.they_are_waiting_for_100_continue:
                sock.sendall(
                    conn.send(
                        h11.InformationalResponse(status_code=100, headers=[], reason=b"Continue")
                    )
                    or b""
                )
            chunks: list[bytes] = []
            size = 0
            while True:
                event = self._next_event(sock, conn)
                if isinstance(event, h11.Data):
                    size += len(event.data)
                    if size > self.max_body:
                        self._send(
                            sock,
                            conn,
                            error_response(413, f"body larger than {self.max_body} bytes"),
                            close=True,
                        )
                        return False
                    chunks.append(bytes(event.data))
                elif isinstance(event, h11.EndOfMessage):
                    break
                else:
                    return False
            request.body = b"".join(chunks)
        except h11.RemoteProtocolError as exc:
            if conn.our_state in (h11.IDLE, h11.SEND_RESPONSE):
                self._send(sock, conn, error_response(400, f"bad HTTP request: {exc}"), close=True)
            return False

        upgrade = self.upgrades.get(request.path)
        if upgrade is not None:  # the handler refuses a request that is not an upgrade
            upgrade(request, sock, conn)
            return False
        try:
            response = self.app(request)
        except Exception:
            log.exception("unhandled error on %s %s", request.method, request.target)
            response = error_response(500, "internal error")
        self._send(sock, conn, response, head=request.method == "HEAD")
        if conn.our_state is h11.MUST_CLOSE or conn.their_state is h11.MUST_CLOSE:
            return False
        conn.start_next_cycle()
        return True

    @staticmethod
    def _send(
        sock: socket.socket,
        conn: h11.Connection,
        response: Response,
        close: bool = False,
        head: bool = False,
    ) -> None:
        headers = [
            ("content-type", response.content_type),
            ("content-length", str(len(response.body))),
            *response.headers,
        ]
        if close:
            headers.append(("connection", "close"))
        out = (
            conn.send(
                h11.Response(
                    status_code=response.status,
                    headers=headers,
                    reason=_REASONS.get(response.status, b""),
                )
            )
            or b""
        )
        if response.body and not head:  # a HEAD answer has the headers of a GET, no body
            out += conn.send(h11.Data(data=response.body)) or b""
        out += conn.send(h11.EndOfMessage()) or b""
        sock.sendall(out)
