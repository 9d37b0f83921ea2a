"""One proxy (a route): a loopback listener, its connections and its toxics."""

from __future__ import annotations

import ipaddress
import socket
from typing import Any

import gevent
import gevent.socket

from chaosbench.proxy import errors
from chaosbench.proxy.addr import join_hostport, loopback_listen, split_hostport
from chaosbench.proxy.errors import ApiError
from chaosbench.proxy.link import Link
from chaosbench.proxy.reader import scratch_buffer
from chaosbench.proxy.toxics.base import Toxic

PROTOCOLS = ("tcp", "http")


def canonical_listen(addr: str) -> str:
    """A listen address as the listener would report it: loopback names resolved, IPv6 compressed.

    Toxiproxy compares ``net.ResolveTCPAddr(listen).String()`` with the current address to decide
    whether an update or a populate changes a proxy; this is the same comparison key.
    """
    host, port = loopback_listen(addr)
    try:
        host = ipaddress.ip_address(host).compressed
    except ValueError:
        pass
    return join_hostport(host, port)


def bind_listener(listen: str) -> gevent.socket.socket:
    """A listening socket on ``listen``; a port that cannot be had is an API error (500)."""
    host, port = loopback_listen(listen)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = gevent.socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(512)
    except OSError as exc:
        sock.close()
        raise ApiError(f"listen tcp {listen}: {exc.strerror or exc}", 500) from None
    return sock


class Proxy:
    def __init__(self, name: str, listen: str, upstream: str, protocol: str = "tcp") -> None:
        if protocol not in PROTOCOLS:
            raise ApiError(f"protocol {protocol!r} is not one of tcp, http", 400)
        self.listen = canonical_listen(listen)
        split_hostport(upstream, "upstream")
        self.name = name
        self.upstream = upstream
        self.protocol = protocol
        self.enabled = False
        self.toxics: dict[str, Toxic] = {}
        self.links: set[Link] = set()
        self.scratch = scratch_buffer()  # the receive buffer its TCP readers share
        self._listener: gevent.socket.socket | None = None
        self._acceptor: gevent.Greenlet | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "listen": self.listen,
            "upstream": self.upstream,
            "enabled": self.enabled,
            "protocol": self.protocol,
            "toxics": [t.to_json() for t in self.toxic_list()],
        }

    def toxic_list(self) -> list[Toxic]:
        """Toxiproxy's order: the upstream chain, then the downstream one, each as added."""
        return sorted(self.toxics.values(), key=lambda t: t.envelope.stream != "upstream")

    def differs(self, listen: str, upstream: str, protocol: str | None = None) -> bool:
        """Would these settings need a new listener (Toxiproxy's ``Proxy.Differs``)?

        The same address by another name (``localhost:PORT`` for ``127.0.0.1:PORT``) is the same;
        a port 0 differs from the port the listener has.
        """
        if protocol is not None and protocol != self.protocol:
            return True
        return canonical_listen(listen) != self.listen or upstream != self.upstream

    def upstream_addr(self) -> tuple[str, int]:
        return split_hostport(self.upstream, "upstream")

    # -- listener ----------------------------------------------------------------------------

    def start(self) -> None:
        if self.enabled:
            return
        sock = bind_listener(self.listen)
        host = loopback_listen(self.listen)[0]
        self.listen = join_hostport(host, sock.getsockname()[1])
        self._listener = sock
        self.enabled = True
        self._acceptor = gevent.spawn(self._accept_loop, sock)

    def stop(self) -> None:
        """Route down: the listener closes (new connections refused), every connection closes."""
        self.enabled = False
        if self._acceptor is not None:
            # wait for it: a socket closed while a greenlet waits on it closes only later,
            # and the route must refuse connections as soon as the API has answered
            self._acceptor.kill(block=True, timeout=2)
            self._acceptor = None
        if self._listener is not None:
            self._listener.close()
            self._listener = None
        for link in list(self.links):
            link.close()

    def _accept_loop(self, sock: gevent.socket.socket) -> None:
        while True:
            try:
                client, _ = sock.accept()
            except OSError:
                if self._listener is not sock:
                    return
                gevent.sleep(0.01)  # e.g. EMFILE: do not spin
                continue
            link = Link(self, client)
            self.links.add(link)
            link.spawn(link.run)

    # -- toxics ------------------------------------------------------------------------------

    def add_toxic(self, toxic: Toxic) -> None:
        if toxic.name in self.toxics:
            raise ApiError(errors.TOXIC_EXISTS, 409)
        self.toxics[toxic.name] = toxic
        self._changed()

    def replace_toxic(self, toxic: Toxic) -> None:
        old = self.toxics.get(toxic.name)
        if old is None:
            raise ApiError(errors.TOXIC_NOT_FOUND, 404)
        self.toxics[toxic.name] = toxic
        old.removed.set()
        self._changed()

    def remove_toxic(self, name: str) -> None:
        old = self.toxics.pop(name, None)
        if old is None:
            raise ApiError(errors.TOXIC_NOT_FOUND, 404)
        old.removed.set()
        self._changed()

    def remove_all_toxics(self) -> None:
        olds = list(self.toxics.values())
        self.toxics.clear()
        for old in olds:
            old.removed.set()
        self._changed()

    def _changed(self) -> None:
        for link in list(self.links):
            link.refresh_toxics()
