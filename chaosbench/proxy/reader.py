"""The hot loop of a TCP route, without a greenlet: an I/O watcher's callback reads a chunk and,
with no toxic on its direction, sends it on at once (non-blocking). One callback per chunk and no
greenlet switch is about twice as fast as a ``recv``/``sendall`` greenlet loop.

A chunk is received into a buffer the route's readers share (``recv_into``) and sent from it
(a memoryview slice): no bytes object per chunk. Anything that could wait leaves the callback: a
partial send pauses reading and the rest goes out from a write watcher's callback (no greenlet);
with toxics, chunks are queued to the direction's writer greenlet, and reading
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
READ, WRITE = 1, 2


def _raw(sock: Any) -> socket.socket:
    """The non-blocking OS-level socket under a gevent socket."""
    return getattr(sock, "_sock", sock)


def scratch_buffer() -> bytearray:
    """The receive buffer the readers of one route share: callbacks of one hub never run at the
    same time, and a chunk leaves it (sent, or copied into the queue) before the callback ends."""
    return bytearray(RECV_SIZE)


class Reader:
    """Reads ``src`` into ``scratch`` (``recv_into``: no bytes object per chunk) and sends each
    chunk on from the same memory when ``direction`` has no toxic; a send that does not take it
    all keeps the rest (a copy) and waits for the destination with a write watcher, with reading
    paused (no greenlet)."""

    def __init__(
        self, link: Connection, src: Any, direction: Direction, scratch: bytearray | None = None
    ) -> None:
        self.link = link
        self.direction = direction
        self._src = _raw(src)
        self._dst = _raw(direction.dst)
        loop = gevent.get_hub().loop
        self._watcher = loop.io(self._src.fileno(), READ)
        self._writable = loop.io(self._dst.fileno(), WRITE)
        self._buf = scratch if scratch is not None else scratch_buffer()
        self._view = memoryview(self._buf)
        self._recv_into = self._src.recv_into
        self._send = self._dst.send
        self._rest: memoryview | None = None
        self.active = False

    def start(self) -> None:
        if not self.active and not self.link.closed and self._rest is None:
            self.active = True
            self._watcher.start(self._on_readable)

    def pause(self) -> None:
        if self.active:
            self.active = False
            self._watcher.stop()

    def close(self) -> None:
        self.pause()
        self._watcher.close()
        self._writable.stop()
        self._writable.close()
        self._rest = None

    def _on_readable(self) -> None:
        try:
            self._read_once()
        except Exception:  # never into the hub: end this connection instead
            log.debug("proxy connection failed", exc_info=True)
            self.link.close()

    def _read_once(self) -> None:
        try:
            n = self._recv_into(self._buf)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            self.link.close()
            return
        d = self.direction
        if not n:
            self.pause()
            d.finish()
            return
        if not d.chain and not d.pending:
            view = self._view
            try:
                sent = self._send(view[:n])
            except (BlockingIOError, InterruptedError):
                sent = 0
            except OSError:
                self.link.close()
                return
            if sent < n:
                self.pause()
                self._rest = memoryview(bytes(view[sent:n]))
                self._writable.start(self._on_writable)
            return
        d.pending += 1
        d.enqueue((bytes(self._view[:n]), time.monotonic()))
        if d.pending >= HIGH_WATER:
            self.pause()
            d.paused_reader = self

    def _on_writable(self) -> None:
        rest = self._rest
        if rest is None or self.link.closed:
            self._writable.stop()
            return
        try:
            sent = self._send(rest)
        except (BlockingIOError, InterruptedError):
            return
        except Exception:
            self._writable.stop()
            self.link.close()
            return
        if sent < len(rest):
            self._rest = rest[sent:]
            return
        self._rest = None
        self._writable.stop()
        self.start()
