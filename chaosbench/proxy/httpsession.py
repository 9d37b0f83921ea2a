"""A ``protocol: http`` connection: HTTP/1.x messages are framed (``httpframing``) so that HTTP
toxics act per request, while the bytes are relayed exactly as they came; a WebSocket upgrade
switches to frame relaying (``WsRelay``) for WebSocket toxics.

Requests on one connection are handled one at a time (request, then its response), which is how
HTTP/1.1 clients use a connection in practice. Bytes still go through the connection's two
``Direction``s, so TCP toxics apply on an HTTP route too.
"""

from __future__ import annotations

import socket
from http import HTTPStatus
from typing import Protocol

from chaosbench.proxy.direction import Direction
from chaosbench.proxy.httpframing import BadMessage, Closed, MessageReader, Request, Response
from chaosbench.proxy.reader import RECV_SIZE
from chaosbench.proxy.toxics.base import HttpResponse, HttpState, Toxic
from chaosbench.proxy.wsrelay import WsLink, WsRelay

# No compression extension on a WebSocket the proxy may drop or mangle messages of.
_STRIP_ON_UPGRADE = {b"sec-websocket-extensions"}


class HttpLink(WsLink, Protocol):
    """What a session uses of its connection (a ``Link``, connected: ``upstream``, ``up`` and
    ``down`` are set)."""

    ws: WsRelay | None

    @property
    def client(self) -> socket.socket: ...

    @property
    def upstream(self) -> socket.socket | None: ...

    @property
    def up(self) -> Direction | None: ...

    @property
    def http_chain(self) -> list[HttpState]: ...

    def pump(self, src: socket.socket, direction: Direction, first: bytes = b"") -> None:
        """Relay ``src`` into ``direction`` until EOF, in this greenlet."""
        ...


class HttpSession:
    def __init__(self, link: HttpLink) -> None:
        self.link = link
        assert link.upstream is not None and link.up is not None and link.down is not None
        self.client_sock = link.client
        self.upstream_sock: socket.socket = link.upstream
        self.up = link.up
        self.down = link.down
        self.switched = False
        # bytes for each side, written in one go before the session waits for anything
        # (one send per message rather than per piece: the send is the costly part)
        self._to_up: list[bytes] = []
        self._to_down: list[bytes] = []
        self.from_client = MessageReader(link.client, self._flush)
        self.from_upstream = MessageReader(link.upstream, self._flush)

    def run(self) -> None:
        try:
            while self._one_exchange():
                pass
            self._flush()
        except OSError:
            self.link.close()
            return
        except (Closed, BadMessage):
            try:
                self._flush()
            except OSError:
                self.link.close()
                return
        if not self.switched:  # pass the end on after what is still queued (toxics)
            self.up.finish()
            self.down.finish()

    def _flush(self) -> None:
        if self._to_up:
            data = b"".join(self._to_up)
            self._to_up.clear()
            self.up.deliver(data)
        if self._to_down:
            data = b"".join(self._to_down)
            self._to_down.clear()
            self.down.deliver(data)

    # -- one request/response ----------------------------------------------------------------

    def _one_exchange(self) -> bool:
        """Relay (or answer) one request; False when the connection is to end."""
        head = self.from_client.read_head()
        if head is None:
            return False
        req = Request.parse(head)
        respond = self._apply_http_toxics(req.method.decode("ascii", "replace"), req.path)
        if respond is not None:
            for _ in self.from_client.body(req.framing()):
                pass  # drained, not forwarded
            self._answer(respond, req.wants_close())
            return not req.wants_close()
        upgrade = req.is_websocket_upgrade()
        self._to_up.append(head.without(_STRIP_ON_UPGRADE) if upgrade else head.raw)
        framing = req.framing()
        resp: Response | None = None
        if framing[0] != "none" and b"100-continue" in head.tokens(b"expect"):
            self._flush()  # the client waits for "100 Continue" before it sends the body
            resp = self._next_response()
            if resp.status == 101:
                return self._switch_to_websocket()
            if resp.status >= 200:  # answered without the body: relay it, then end
                self._to_down.extend(self.from_upstream.body(resp.framing(req.method)))
                return False
            resp = None
        self._to_up.extend(self.from_client.body(framing))
        self._flush()
        while resp is None or resp.status < 200:
            resp = self._next_response()
            if resp.status == 101:
                return self._switch_to_websocket()
        rframing = resp.framing(req.method)
        self._to_down.extend(self.from_upstream.body(rframing))
        return not (rframing[0] == "close" or resp.closes() or req.wants_close())

    def _next_response(self) -> Response:
        """The next response head from upstream (a 1xx too), queued for the client."""
        rhead = self.from_upstream.read_head()
        if rhead is None:
            raise Closed()
        self._to_down.append(rhead.raw)
        return Response.parse(rhead)

    def _apply_http_toxics(self, method: str, path: str) -> HttpResponse | None:
        respond: HttpResponse | None = None
        delays: list[tuple[Toxic, float]] = []
        for state in list(self.link.http_chain):
            if state.toxic.removed.is_set():
                continue
            act = state.on_request(method, path)
            if act is None:
                continue
            if act.delay > 0:
                delays.append((state.toxic, act.delay))
            if act.respond is not None and respond is None:
                respond = act.respond
        if delays:
            self._flush()  # what is answered already goes out before the wait
        for toxic, delay in delays:
            toxic.wait(delay)
        return respond

    def _answer(self, resp: HttpResponse, close: bool) -> None:
        try:
            reason = HTTPStatus(resp.status).phrase
        except ValueError:
            reason = "Error"
        lines = [f"HTTP/1.1 {resp.status} {reason}"]
        lines += [f"{k}: {v}" for k, v in resp.headers]
        lines.append(f"Content-Length: {len(resp.body)}")
        if close:
            lines.append("Connection: close")
        self._to_down.append(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + resp.body)

    # -- WebSocket ---------------------------------------------------------------------------

    def _switch_to_websocket(self) -> bool:
        """Relay the upgraded connection until it ends; False (no more HTTP exchanges)."""
        self._flush()
        self.switched = True
        link = self.link
        link.ws = WsRelay(link)
        link.spawn(self._pump_ws, self.from_upstream.take())
        link.pump(self.client_sock, self.up, self.from_client.take())
        return False

    def _pump_ws(self, first: bytes) -> None:
        ws = self.link.ws
        assert ws is not None
        try:
            if first:
                ws.feed(first)
            while True:
                data = self.upstream_sock.recv(RECV_SIZE)
                if not data:
                    break
                ws.feed(data)
        except OSError:
            self.link.close()
            return
        self.down.finish()
