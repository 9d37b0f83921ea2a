"""A tiny real WebSocket feed server for the tests (gevent + wsproto on a loopback socket).

Speaks the reference feed's contract: JSON messages {seq, type, server_time, data} with strictly
increasing seq, ``?since=N`` replays seq > N (or sends a ``gap`` message when N is too old), then
live. Knobs for the tests: ``skip(n)`` (the next n sequence numbers are never sent), ``stall(s)``
(no bytes to anyone for s seconds), ``drop_all()`` (close every connection abruptly).

Must run in a gevent-patched process (the test scripts import locust first).
"""

from __future__ import annotations

import json
import socket
import time
from collections import deque
from urllib.parse import parse_qs, urlsplit

import gevent
import gevent.queue
from gevent.server import StreamServer
from wsproto import ConnectionType, WSConnection
from wsproto.events import (
    AcceptConnection,
    CloseConnection,
    Ping,
    Request,
    TextMessage,
)


class _Client:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.queue: gevent.queue.Queue[dict | None] = gevent.queue.Queue()
        self.alive = True


class FeedServer:
    def __init__(self, rate: float = 50.0, buffer: int = 5000) -> None:
        self.rate = rate
        self.seq = 0
        self.buffer: deque[dict] = deque(maxlen=buffer)
        self.clients: list[_Client] = []
        self.connections = 0
        self.stalled_until = 0.0
        self.frozen_until = 0.0
        self._skip = 0
        self._lose_buffer = False
        self._server = StreamServer(("127.0.0.1", 0), self._handle)
        self._publisher: gevent.Greenlet | None = None

    @property
    def port(self) -> int:
        return int(self._server.server_port)

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws/feed"

    def start(self) -> FeedServer:
        self._server.start()
        self._publisher = gevent.spawn(self._publish)
        return self

    def stop(self) -> None:
        if self._publisher is not None:
            self._publisher.kill()
        self.drop_all()
        self._server.stop(timeout=1)

    # -- knobs ---------------------------------------------------------------------------------
    def skip(self, n: int = 1) -> None:
        self._skip += n

    def stall(self, seconds: float) -> None:
        self.stalled_until = time.monotonic() + seconds

    def freeze(self, seconds: float) -> None:
        """A dead peer: no messages and no pongs for ``seconds``."""
        self.frozen_until = time.monotonic() + seconds
        self.stall(seconds)

    def repeat_last(self) -> None:
        """Send the last message again (a duplicate)."""
        if self.buffer:
            for client in self.clients:
                client.queue.put(self.buffer[-1])

    def lose_buffer_on_next_connect(self) -> None:
        """Like a restart: the next connection finds the replay buffer empty and 5 messages lost
        (a resume then gets a gap notice)."""
        self._lose_buffer = True

    def drop_all(self) -> None:
        for client in list(self.clients):
            client.alive = False
            try:
                client.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            client.sock.close()
            client.queue.put(None)
        self.clients.clear()

    # -- feed ----------------------------------------------------------------------------------
    def _publish(self) -> None:
        interval = 1.0 / self.rate
        while True:
            gevent.sleep(interval)
            self.seq += 1
            if self._skip:
                self._skip -= 1
                continue
            msg = {
                "seq": self.seq,
                "type": "quote",
                "server_time": time.time(),
                "data": {"symbol": "BTCUSD", "bid": 1.0, "ask": 1.1},
            }
            self.buffer.append(msg)
            for client in self.clients:
                client.queue.put(msg)

    def _handle(self, sock: socket.socket, _addr: object) -> None:
        ws = WSConnection(ConnectionType.SERVER)
        client = _Client(sock)
        sock.settimeout(30)
        try:
            since = None
            while since is None:
                data = sock.recv(65536)
                if not data:
                    return
                ws.receive_data(data)
                for event in ws.events():
                    if isinstance(event, Request):
                        sock.sendall(ws.send(AcceptConnection()))
                        qs = parse_qs(urlsplit(event.target).query)
                        since = int(qs["since"][0]) if "since" in qs else -1
            # snapshot + register without yielding: no gap and no duplicate at the hand-over
            if self._lose_buffer:
                self._lose_buffer = False
                self.buffer.clear()
                self.seq += 5
            if since >= 0:
                backlog = [m for m in self.buffer if m["seq"] > since]
                first = self.buffer[0]["seq"] if self.buffer else self.seq + 1
                if since + 1 < first:
                    client.queue.put(
                        {
                            "type": "gap",
                            "from": since + 1,
                            "to": first - 1,
                            "reason": "replay buffer",
                            "server_time": time.time(),
                        }
                    )
                for m in backlog:
                    client.queue.put(m)
            self.clients.append(client)
            self.connections += 1
            writer = gevent.spawn(self._write, ws, client)
            try:
                while client.alive:
                    data = sock.recv(65536)
                    if not data:
                        break
                    ws.receive_data(data)
                    for event in ws.events():
                        if isinstance(event, Ping):
                            if time.monotonic() < self.frozen_until:
                                continue
                            sock.sendall(ws.send(event.response()))
                        elif isinstance(event, CloseConnection):
                            sock.sendall(ws.send(event.response()))
                            client.alive = False
            finally:
                client.alive = False
                client.queue.put(None)
                writer.join(timeout=1)
        except OSError:
            pass
        finally:
            if client in self.clients:
                self.clients.remove(client)
            sock.close()

    def _write(self, ws: WSConnection, client: _Client) -> None:
        try:
            while client.alive:
                msg = client.queue.get()
                if msg is None:
                    return
                while time.monotonic() < self.stalled_until:
                    gevent.sleep(0.01)
                if not client.alive:
                    return
                client.sock.sendall(ws.send(TextMessage(json.dumps(msg))))
        except Exception:
            client.alive = False
