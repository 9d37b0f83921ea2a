"""Keep-alive connections that stay kept alive above file descriptor 1023.

Before it reuses a pooled connection, geventhttpclient's ``ConnectionPool`` asks whether the
connection is still alive with ``select.select([sock], [], [], 0)``. Under gevent that first
calls the real select(2), which cannot take a descriptor of 1024 (FD_SETSIZE) or more and
raises ``ValueError``; the pool takes the error for a dead connection, closes it and connects
anew, resolving the host through gevent's thread pool. In a process with more than a thousand
sockets (2 000 ApiUsers, or 1 000 beside 1 000 FeedUsers) every request of a user whose socket
got a number above 1023 opened a new connection: about 500 reconnects a second at 2 000
ApiUsers, and the CPU per request tripled (``python -m bench.scale``).

``keep_alive_above_fd_limit`` gives a FastHttpSession's clients the same check with poll(2) on
the one descriptor (no limit on its number; the unpatched ``select.poll``, so the check does
not yield to the event loop either, as gevent's ``select`` does even with a zero timeout).
What counts as alive is unchanged: an idle keep-alive connection must not be readable (a
readable one has the server's FIN or stray bytes on it, and is closed).
"""

from __future__ import annotations

import select
from typing import Any

from gevent.monkey import get_original
from geventhttpclient.client import HTTPClient, HTTPClientPool
from locust.contrib.fasthttp import FastHttpSession

#: select.poll as it was before gevent's monkey-patching removed it (it never blocks here:
#: the timeout is 0)
_poll: Any = get_original("select", "poll")
_READABLE = select.POLLIN | select.POLLPRI | select.POLLERR | select.POLLHUP | select.POLLNVAL


def socket_alive(sock: Any) -> bool:
    """Whether an idle pooled connection can take the next request: open, and nothing to read
    (no FIN, no stray bytes, no error)."""
    if sock is None:
        return False
    try:
        fd = sock.fileno()
        if fd < 0:
            return False
        poller = _poll()
        poller.register(fd, _READABLE)
        return not poller.poll(0)
    except (OSError, ValueError):
        return False


class KeepAliveClientPool(HTTPClientPool):
    """geventhttpclient's per-host client pool, its clients' connection check replaced by
    ``socket_alive``."""

    def get_client(self, url: Any) -> HTTPClient:
        known = len(self.clients)
        client = super().get_client(url)
        if len(self.clients) != known:  # made just now (once per host: not on every request)
            pool = getattr(client, "_connection_pool", None)
            if pool is not None:
                pool._is_socket_alive = socket_alive
        return client


def keep_alive_above_fd_limit(session: FastHttpSession) -> None:
    """Give ``session`` a client pool of the same settings whose connections are checked with
    ``socket_alive``. Only for a session's own pool (FastHttpUser's ``client_pool`` unset): a
    pool shared through ``client_pool`` would be replaced for this user alone. A shared pool
    can be a ``KeepAliveClientPool`` from the start."""
    agent = session.client
    current = agent.clientpool
    if type(current) is HTTPClientPool and not current.clients:
        agent.clientpool = KeepAliveClientPool(**current.client_args)
