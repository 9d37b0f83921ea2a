"""A ``protocol: http`` connection: HTTP/1.1 requests parsed (h11) so that HTTP toxics act per
request; a WebSocket upgrade switches to frame relaying (``WsRelay``) for WebSocket toxics.

Requests on one connection are handled one at a time (request, then its response), which is how
HTTP/1.1 clients use a connection in practice. Bytes still go through the connection's two
``Direction``s, so TCP toxics apply on an HTTP proxy too.
"""

from __future__ import annotations

import socket
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

import h11

from chaos.proxy.link import RECV_SIZE
from chaos.proxy.toxics.base import HttpResponse, Toxic
from chaos.proxy.wsrelay import WsRelay

if TYPE_CHECKING:
    from chaos.proxy.link import Link

# Hop-by-hop negotiation the proxy cannot honour once it rewrites messages: no compression
# extension on a WebSocket it may drop or mangle messages of.
_STRIP_ON_UPGRADE = {b"sec-websocket-extensions"}


class _Closed(Exception):
    pass


class HttpSession:
    def __init__(self, link: Link) -> None:
        self.link = link
        self.srv = h11.Connection(h11.SERVER)
        self.cli = h11.Connection(h11.CLIENT)
        assert link.upstream is not None and link.up is not None and link.down is not None
        self.client_sock = link.client
        self.upstream_sock: socket.socket = link.upstream
        self.up = link.up
        self.down = link.down
        self.switched = False
        # bytes for each side, written in one go before the session waits for anything
        # (one send per message instead of one per h11 event: a send is the costly part)
        self._to_up: list[bytes] = []
        self._to_down: list[bytes] = []

    def run(self) -> None:
        try:
            while True:
                if not self._one_exchange():
                    break
        except OSError:
            self.link.close()
            return
        except (_Closed, h11.ProtocolError):
            pass
        try:
            self._flush()
        except OSError:
            self.link.close()
            return
        if not self.switched:  # pass the end on after what is still queued (toxics)
            self.up.finish()
            self.down.finish()

    # -- reading -----------------------------------------------------------------------------

    def _client_event(self) -> Any:
        while True:
            ev = self.srv.next_event()
            if ev is h11.NEED_DATA:
                self._flush()
                self.srv.receive_data(self.client_sock.recv(RECV_SIZE))
                continue
            if isinstance(ev, h11.ConnectionClosed):
                raise _Closed()
            return ev

    def _upstream_event(self) -> Any:
        while True:
            ev = self.cli.next_event()
            if ev is h11.NEED_DATA:
                self._flush()
                self.cli.receive_data(self.upstream_sock.recv(RECV_SIZE))
                continue
            if isinstance(ev, h11.ConnectionClosed):
                raise _Closed()
            return ev

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
        """Handle one request; False when the connection is to end."""
        req = self._client_event()
        if req is h11.PAUSED:
            return False
        assert isinstance(req, h11.Request)
        method = req.method.decode("ascii", "replace")
        path = req.target.decode("latin-1").split("?", 1)[0]
        respond = self._apply_http_toxics(method, path)
        if respond is not None:
            self._drain_request_body()
            self._answer(respond)
            return self._next_cycle(srv_only=True)
        headers = req.headers.raw_items()
        if not any(k.lower() == b"host" for k, _ in headers):  # an HTTP/1.0 client
            headers = [(b"Host", self.link.proxy.upstream.encode()), *headers]
        upgrade = _is_ws_upgrade(req)
        if upgrade:
            headers = [(k, v) for k, v in headers if k.lower() not in _STRIP_ON_UPGRADE]
        out = self.cli.send(h11.Request(method=req.method, target=req.target, headers=headers))
        if out:
            self._to_up.append(out)
        while True:
            ev = self._client_event()
            data = self.cli.send(ev)
            if data:
                self._to_up.append(data)
            if isinstance(ev, h11.EndOfMessage):
                break
        self._flush()
        while True:
            rev = self._upstream_event()
            data = self.srv.send(rev)
            if data:
                self._to_down.append(data)
            if isinstance(rev, h11.InformationalResponse):
                if rev.status_code == 101:
                    self._flush()
                    self._switch_to_websocket()
                    return False
                continue
            if isinstance(rev, h11.EndOfMessage):
                break
        return self._next_cycle()

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

    def _drain_request_body(self) -> None:
        while not isinstance(self._client_event(), h11.EndOfMessage):
            pass

    def _answer(self, resp: HttpResponse) -> None:
        try:
            reason = HTTPStatus(resp.status).phrase
        except ValueError:
            reason = ""
        headers = [*resp.headers, ("Content-Length", str(len(resp.body)))]
        for ev in (
            h11.Response(status_code=resp.status, headers=headers, reason=reason),
            h11.Data(data=resp.body),
            h11.EndOfMessage(),
        ):
            data = self.srv.send(ev)
            if data:
                self._to_down.append(data)

    def _next_cycle(self, srv_only: bool = False) -> bool:
        if self.srv.our_state is h11.MUST_CLOSE or self.srv.their_state is h11.MUST_CLOSE:
            return False
        if not srv_only:
            if self.cli.our_state is h11.MUST_CLOSE or self.cli.their_state is h11.MUST_CLOSE:
                return False
            self.cli.start_next_cycle()
        self.srv.start_next_cycle()
        return True

    # -- WebSocket ---------------------------------------------------------------------------

    def _switch_to_websocket(self) -> None:
        self.switched = True
        link = self.link
        ws = WsRelay(link)
        link.ws = ws
        client_rest, _ = self.srv.trailing_data
        upstream_rest, _ = self.cli.trailing_data
        link.spawn(self._pump_ws, bytes(upstream_rest))
        link.pump(self.client_sock, self.up, bytes(client_rest))

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


def _is_ws_upgrade(req: h11.Request) -> bool:
    for name, value in req.headers:
        if name == b"upgrade" and value.lower() == b"websocket":
            return True
    return False
