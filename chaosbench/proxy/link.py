"""One proxied connection: client socket, upstream socket, two directions, its toxic states."""

from __future__ import annotations

import ipaddress
import socket
import struct
from typing import Any, Protocol

import gevent
import gevent.socket

from chaosbench.proxy.direction import Direction
from chaosbench.proxy.httpsession import HttpSession
from chaosbench.proxy.reader import RECV_SIZE, Reader
from chaosbench.proxy.toxics.base import HttpState, TcpState, Toxic, WsState
from chaosbench.proxy.wsrelay import WsRelay

CONNECT_TIMEOUT = 5.0


class Route(Protocol):
    """What a connection reads of its route (a ``Proxy``)."""

    @property
    def protocol(self) -> str: ...

    @property
    def toxics(self) -> dict[str, Toxic]: ...

    @property
    def links(self) -> set[Link]: ...

    @property
    def scratch(self) -> bytearray:
        """The receive buffer of this route's readers (``reader.scratch_buffer``)."""
        ...

    def upstream_addr(self) -> tuple[str, int]: ...


def connect(host: str, port: int, timeout: float = CONNECT_TIMEOUT) -> socket.socket:
    """A connection to ``host:port``; an IP address is connected to at once (no resolver
    round trip through gevent's thread pool on every new connection)."""
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return gevent.socket.create_connection((host, port), timeout=timeout)
    sock = gevent.socket.socket(socket.AF_INET6 if ip.version == 6 else socket.AF_INET)
    try:
        sock.settimeout(timeout)
        sock.connect((host, port))
    except BaseException:
        sock.close()
        raise
    return sock


def _nodelay(sock: socket.socket) -> None:
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except OSError:
        pass


class Link:
    def __init__(self, proxy: Route, client: socket.socket) -> None:
        self.proxy = proxy
        self.client = client
        self.upstream: socket.socket | None = None
        self.greenlets: set[gevent.Greenlet] = set()
        self.closed = False
        self.up: Direction | None = None
        self.down: Direction | None = None
        self._states: dict[Toxic, Any] = {}
        self.http_chain: list[HttpState] = []
        self.ws_chain: list[WsState] = []
        self.ws: WsRelay | None = None
        self.readers: list[Reader] = []
        self._done = 0

    # -- life --------------------------------------------------------------------------------

    def run(self) -> None:
        """The connection's first greenlet (spawned with ``spawn``): connect, then relay."""
        host, port = self.proxy.upstream_addr()
        try:
            up = connect(host, port)
            up.settimeout(None)
        except OSError:
            self.close()
            return
        if self.closed:  # closed while connecting (route taken down)
            up.close()
            return
        self.upstream = up
        _nodelay(self.client)
        _nodelay(up)
        self.up = Direction(self, "upstream", up)
        self.down = Direction(self, "downstream", self.client)
        self.up.on_done = self.down.on_done = self._direction_done
        self.refresh_toxics()
        if self.proxy.protocol == "http":
            HttpSession(self).run()
        else:
            scratch = self.proxy.scratch
            self.readers = [
                Reader(self, self.client, self.up, scratch),
                Reader(self, up, self.down, scratch),
            ]
            for reader in self.readers:
                reader.start()

    def spawn(self, fn: Any, *args: Any) -> gevent.Greenlet:
        """A greenlet of this connection: killed when it closes, forgotten when it ends."""
        g = gevent.spawn(fn, *args)
        self.greenlets.add(g)
        g.rawlink(self.greenlets.discard)
        return g

    def pump(self, src: socket.socket, direction: Direction, first: bytes = b"") -> None:
        """Relay ``src`` into ``direction`` until EOF, in this greenlet (HTTP/WebSocket routes)."""
        recv = src.recv
        deliver = direction.deliver
        try:
            if first:
                deliver(first)
            while True:
                data = recv(RECV_SIZE)
                if not data:
                    break
                deliver(data)
        except OSError:
            self.close()
            return
        direction.finish()

    def _direction_done(self) -> None:
        self._done += 1
        if self._done >= 2:
            self.close()

    def close(self, reset: bool = False) -> None:
        if self.closed:
            return
        self.closed = True
        self.proxy.links.discard(self)
        for state in self._states.values():
            if state is not None:
                state.stop()
        for reader in self.readers:
            reader.close()
        me = gevent.getcurrent()
        for g in list(self.greenlets):
            if g is not me:
                g.kill(block=False)
        for sock in (self.client, self.upstream):
            if sock is None:
                continue
            try:
                if reset:
                    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                sock.close()
            except OSError:
                pass

    # -- toxics ------------------------------------------------------------------------------

    def refresh_toxics(self) -> None:
        """Bring this connection's toxic states in line with the proxy's toxics (at once)."""
        if self.closed or self.up is None or self.down is None:
            return
        old = self._states
        new: dict[Toxic, Any] = {}
        for toxic in self.proxy.toxics.values():
            if toxic in old:
                new[toxic] = old[toxic]
                continue
            state = toxic.new_state(self) if toxic.roll() else None
            new[toxic] = state
            if isinstance(state, TcpState):
                state.start()
        retired = [s for t, s in old.items() if t not in new and s is not None]
        self._states = new
        live = [(t, s) for t, s in new.items() if s is not None]
        self.up.chain = [
            s for t, s in live if isinstance(s, TcpState) and t.envelope.stream == "upstream"
        ]
        self.down.chain = [
            s for t, s in live if isinstance(s, TcpState) and t.envelope.stream == "downstream"
        ]
        self.http_chain = [s for _, s in live if isinstance(s, HttpState)]
        self.ws_chain = [s for _, s in live if isinstance(s, WsState)]
        for state in retired:
            state.stop()
            if isinstance(state, WsState) and self.ws is not None:
                self.ws.retire(state)
