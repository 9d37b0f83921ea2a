"""A psycopg connection that waits on the gevent hub directly.

Under gevent's monkey-patching psycopg picks ``wait_poll`` (its C ``wait_c`` would block the
loop), which builds a new ``select.poll`` per wait, i.e. new gevent watchers, and wakes every
0.1 s. :class:`GeventConnection` instead waits on one libev io watcher per (socket, events),
kept for the connection's life (for its socket: a new socket gets new watchers): one hub
switch per wait, nothing allocated.
"""

from __future__ import annotations

from typing import Any

import gevent
import psycopg
from gevent import get_hub
from psycopg import errors as pg_errors
from psycopg.abc import PQGen
from psycopg.waiting import Ready, Wait

_READY = {Wait.R: Ready.R, Wait.W: Ready.W, Wait.RW: Ready.RW}


class GeventConnection(psycopg.Connection[Any]):
    """``psycopg.Connection`` whose ``wait`` parks the greenlet on the hub (see module doc)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._watchers: dict[Wait, Any] = {}  # for the socket self._fileno
        self._fileno = -1

    def wait(self, gen: PQGen[Any], interval: float = 0.0, timeout: float | None = None) -> Any:
        fileno = self.pgconn.socket
        if fileno != self._fileno:  # the first wait, or libpq has a new socket (a reset)
            self._close_watchers()
            self._fileno = fileno
        if timeout is None:
            return self._wait(gen, fileno)
        with gevent.Timeout(timeout, pg_errors._WaitTimeout("wait timeout expired")):
            return self._wait(gen, fileno)

    def _wait(self, gen: PQGen[Any], fileno: int) -> Any:
        hub = get_hub()
        watchers = self._watchers
        try:
            s = next(gen)
            while True:
                watcher = watchers.get(s)
                if watcher is None:
                    watcher = watchers[s] = hub.loop.io(fileno, int(s))
                hub.wait(watcher)
                # the watcher fired for (one of) the events asked for; libpq's non-blocking
                # reads and flushes take a spurious "ready" in their stride
                s = gen.send(_READY[s])
        except StopIteration as ex:
            return ex.value

    def _close_watchers(self) -> None:
        watchers, self._watchers = self._watchers, {}
        for watcher in watchers.values():
            watcher.close()

    def close(self) -> None:
        super().close()
        self._close_watchers()
        self._fileno = -1
