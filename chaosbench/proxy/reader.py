"""The hot loop of a TCP route, without a greenlet: an I/O watcher's callback reads a chunk and,
with no toxic on its direction, sends it on at once (non-blocking). One callback per chunk and no
greenlet switch is about twice as fast as a ``recv``/``sendall`` greenlet loop.

Anything that could wait leaves the callback: a partial send pauses reading while a greenlet
sends the rest; with toxics, chunks are queued to the direction's writer greenlet, and reading
pauses while ``direction.HIGH_WATER`` chunks are queued (back-pressure, e.g. under ``bandwidth``).
"""

from __future__ import annotations

import logging
import socket
import time
from typing import Any

import gevent

from chaosbench.proxy.direction import HIGH_WATER, Direction
from chaosbench.proxy.handles import Connection

log = logging.getLogger("chaosbench.proxy")

RECV_SIZE = 65536
READ = 1


def _raw(sock: Any) -> socket.socket:
    """The non-blocking OS-level socket under a gevent socket."""
    return getattr(sock, "_sock", sock)


class Reader:
    def __init__(self, link: Connection, src: Any, direction: Direction) -> None:
        self.link = link
        self.direction = direction
        self._src = _raw(src)
        self._dst = _raw(direction.dst)
        self._watcher = gevent.get_hub().loop.io(self._src.fileno(), READ)
        self.active = False

    def start(self) -> None:
        if not self.active and not self.link.closed:
            self.active = True
            self._watcher.start(self._on_readable)

    def pause(self) -> None:
        if self.active:
            self.active = False
            self._watcher.stop()

    def close(self) -> None:
        self.pause()
        self._watcher.close()

    def _on_readable(self) -> None:
        try:
            self._read_once()
        except Exception:  # never into the hub: end this connection instead
            log.debug("proxy connection failed", exc_info=True)
            self.link.close()

    def _read_once(self) -> None:
        try:
            data = self._src.recv(RECV_SIZE)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self.link.close()
            return
        d = self.direction
        if not data:
            self.pause()
            d.finish()
            return
        if not d.chain and not d.pending:
            try:
                sent = self._dst.send(data)
            except (BlockingIOError, InterruptedError):
                sent = 0
            except OSError:
                self.link.close()
                return
            if sent < len(data):
                self.pause()
                self.link.spawn(self._send_rest, data[sent:])
            return
        d.pending += 1
        d.enqueue((data, time.monotonic()))
        if d.pending >= HIGH_WATER:
            self.pause()
            d.paused_reader = self

    def _send_rest(self, rest: bytes) -> None:
        try:
            self.direction.dst.sendall(rest)
        except OSError:
            self.link.close()
            return
        self.start()
