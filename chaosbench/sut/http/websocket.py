"""The WebSocket feed session: handshake (over h11), then wsproto frames on the raw socket.

One greenlet reads (pings are answered, a close is acknowledged), one writes: first a gap notice if
``since`` is older than the replay buffer, then the backlog after ``since``, then the live stream.
A client whose queue overflows (it reads slower than the feed) is sent close code 1013
("try again later") and disconnected; it may reconnect with ``?since=<last seq>``.
"""

from __future__ import annotations

import base64
import hashlib
import logging
import socket

import gevent
import gevent.lock
import h11
from wsproto.connection import Connection, ConnectionType
from wsproto.events import (
    BytesMessage,
    CloseConnection,
    Event,
    Message,
    Ping,
    TextMessage,
)
from wsproto.utilities import LocalProtocolError

from chaosbench.sut.feed.hub import FeedHub, FeedMessage, SequenceCheck, Subscriber
from chaosbench.sut.http.server import HttpServer, Request, Response, error_response

log = logging.getLogger("chaosbench.sut.ws")
_GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
CLOSE_TOO_SLOW = 1013
SEND_BATCH = 256
SEND_BUFFER = 256 * 1024


def accept_key(key: str) -> str:
    return base64.b64encode(hashlib.sha1(key.encode("ascii") + _GUID).digest()).decode("ascii")


def _reject(sock: socket.socket, conn: h11.Connection, response: Response) -> None:
    HttpServer._send(sock, conn, response, close=True)


class FeedEndpoint:
    def __init__(self, hub: FeedHub, ping_interval: float = 20.0, send_timeout: float = 10.0):
        self.hub = hub
        self.ping_interval = ping_interval
        self.send_timeout = send_timeout
        self.sessions = 0

    def __call__(self, request: Request, sock: socket.socket, conn: h11.Connection) -> None:
        key = request.headers.get("sec-websocket-key", "")
        if request.method != "GET" or "websocket" not in request.headers.get("upgrade", "").lower():
            _reject(sock, conn, error_response(426, "this endpoint speaks WebSocket only"))
            return
        if not key or request.headers.get("sec-websocket-version") != "13":
            _reject(
                sock,
                conn,
                error_response(
                    400,
                    "missing Sec-WebSocket-Key or Sec-WebSocket-Version 13",
                    "sec-websocket-key",
                ),
            )
            return
        since: int | None = None
        if "since" in request.query:
            try:
                since = int(request.query["since"])
            except ValueError:
                _reject(sock, conn, error_response(400, "since must be an integer", "since"))
                return
            if since < 0:
                _reject(sock, conn, error_response(400, "since must be >= 0", "since"))
                return
        out = (
            conn.send(
                h11.InformationalResponse(
                    status_code=101,
                    reason=b"Switching Protocols",
                    headers=[
                        ("upgrade", "websocket"),
                        ("connection", "Upgrade"),
                        ("sec-websocket-accept", accept_key(key)),
                    ],
                )
            )
            or b""
        )
        sock.sendall(out)
        trailing, _closed = conn.trailing_data
        _Session(self, sock, bytes(trailing), since).run()


class _Session:
    def __init__(self, endpoint: FeedEndpoint, sock: socket.socket, data: bytes, since: int | None):
        self.endpoint = endpoint
        self.hub = endpoint.hub
        self.sock = sock
        self.ws = Connection(ConnectionType.SERVER)
        self.pending = data
        self.since = since
        self.lock = gevent.lock.Semaphore()
        self.closing = False

    def _send(self, events: list[Event]) -> None:
        with self.lock:
            data = b"".join(self.ws.send(e) for e in events)
            self.sock.sendall(data)

    def run(self) -> None:
        self.endpoint.sessions += 1
        self.sock.settimeout(None)
        # a bounded kernel send buffer: a client that stops reading shows up in its queue quickly
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SEND_BUFFER)
        sub, check, backlog = self.hub.subscribe(self.since)
        sub.on_overflow = lambda: gevent.spawn(self._too_slow, sub)
        writer = gevent.spawn(self._write, sub, check, backlog)
        try:
            self._read()
        finally:
            self.hub.unsubscribe(sub)
            writer.kill()
            self.endpoint.sessions -= 1

    def _read(self) -> None:
        if self.pending:
            self.ws.receive_data(self.pending)
        while True:
            for event in self.ws.events():
                if isinstance(event, Ping):
                    self._send([event.response()])
                elif isinstance(event, CloseConnection):
                    if not self.closing:
                        self.closing = True
                        try:
                            self._send([event.response()])
                        except Exception:
                            pass
                    return
                elif isinstance(event, TextMessage | BytesMessage):
                    pass  # the feed is one-way; client messages are ignored
            try:
                data = self.sock.recv(65536)
            except OSError:
                return
            if not data:
                return
            self.ws.receive_data(data)

    def _write(self, sub: Subscriber, check: SequenceCheck, backlog: list[FeedMessage]) -> None:
        try:
            self._send_checked(check, backlog)
            while not self.closing:
                if not sub.ready.wait(self.endpoint.ping_interval):
                    self._send([Ping(payload=b"keepalive")])
                    continue
                if sub.overflowed:
                    return  # _too_slow closes the session
                self._send_checked(check, sub.take())
        except (OSError, LocalProtocolError):  # the peer is gone, or the close has begun
            self._abort()

    def _send_checked(self, check: SequenceCheck, messages: list[FeedMessage]) -> None:
        batch: list[Event] = []
        for msg in messages:
            gap, send = check.admit(msg)
            if gap is not None:
                batch.append(Message(data=gap.render()))
            if send:
                batch.append(Message(data=msg.render()))
            if len(batch) >= SEND_BATCH:
                self._send(batch)
                batch = []
        if batch:
            self._send(batch)

    def _too_slow(self, sub: Subscriber) -> None:
        self.hub.dropped_slow += 1
        self._close(CLOSE_TOO_SLOW, f"client too slow: over {sub.limit} messages behind")

    def _close(self, code: int, reason: str) -> None:
        self.closing = True
        try:
            with gevent.Timeout(1.0):
                self._send([CloseConnection(code=code, reason=reason)])
        except (gevent.Timeout, Exception):
            pass
        self._abort()

    def _abort(self) -> None:
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


__all__ = ["CLOSE_TOO_SLOW", "FeedEndpoint", "accept_key"]
