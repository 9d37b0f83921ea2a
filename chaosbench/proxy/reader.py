"""The hot loop of a TCP route, without a greenlet: an I/O watcher's callback reads a chunk and,
with no toxic on its direction, sends it on at once (non-blocking). One callback per chunk and no
greenlet switch is about twice as fast as a ``recv``/``sendall`` greenlet loop.

A chunk is received into a buffer the route's readers share (``recv_into``) and sent from it
(a memoryview slice): no bytes object per chunk. A direction that carries bulk data (a chunk of
``SPLICE_FROM`` bytes or more) switches to ``os.splice`` through a pipe of its own: the bytes
go socket -> pipe -> socket inside the kernel and never reach Python; it switches back after
``SMALL_RUN`` small chunks in a row (small messages cost less through ``recv_into``/``send``).
Anything that could wait leaves the callback: a partial send (or bytes left in the pipe) pauses
reading and the rest goes out from a write watcher's callback (no greenlet); with toxics, chunks
are queued to the direction's writer greenlet, and reading pauses while ``direction.HIGH_WATER``
chunks are queued (back-pressure, e.g. under ``bandwidth``). Reading only resumes once nothing is
left, so the bytes of a direction stay in order when a toxic comes or goes.
"""

from __future__ import annotations

import functools
import logging
import os
import socket
import time
from collections.abc import Callable
from typing import Any

import gevent

from chaosbench.proxy.direction import HIGH_WATER, Direction
from chaosbench.proxy.handles import Connection

log = logging.getLogger("chaosbench.proxy")

RECV_SIZE = 65536
READ, WRITE = 1, 2
#: a chunk this large switches a direction to ``os.splice``; a smaller spliced one switches back
SPLICE_FROM = 16384
SMALL_RUN = 16  # ... and this many smaller ones in a row switch it back
HAS_SPLICE = hasattr(os, "splice")
_SPLICE_FLAGS = getattr(os, "SPLICE_F_MOVE", 0) | getattr(os, "SPLICE_F_NONBLOCK", 0)


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
        self._src_fd, self._dst_fd = self._src.fileno(), self._dst.fileno()
        loop = gevent.get_hub().loop
        self._watcher = loop.io(self._src.fileno(), READ)
        self._writable = loop.io(self._dst.fileno(), WRITE)
        self._buf = scratch if scratch is not None else scratch_buffer()
        self._view = memoryview(self._buf)
        self._recv_chunk = functools.partial(self._src.recv_into, self._buf)
        self._send = self._dst.send
        self._rest: memoryview | None = None
        self._pipe: tuple[int, int] | None = None  # (read end, write end), while splicing
        self._splice_in: Callable[[], int] | None = None  # source -> pipe, while splicing
        self._in_pipe = 0  # bytes spliced into the pipe and not yet out of it
        self._small = 0  # small chunks spliced in a row
        self.spliced = 0  # bytes that went through the pipe (never into Python)
        self.active = False

    def start(self) -> None:
        if not self.active and not self.link.closed and self._rest is None and not self._in_pipe:
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
        self._close_pipe()

    def _close_pipe(self) -> None:
        pipe, self._pipe, self._in_pipe, self._small = self._pipe, None, 0, 0
        self._splice_in = None
        if pipe is not None:
            for fd in pipe:
                os.close(fd)

    def _on_readable(self) -> None:
        try:
            self._read_once()
        except Exception:  # never into the hub: end this connection instead
            log.debug("proxy connection failed", exc_info=True)
            self.link.close()

    def _take(self, read: Callable[[], int]) -> int:
        """``read()`` a chunk from the source: its size, or 0 when there is nothing to pass on
        (nothing to read yet; a failed connection, closed; the end, passed on)."""
        try:
            n = read()
        except (BlockingIOError, InterruptedError):
            return 0
        except OSError:
            self.link.close()
            return 0
        if not n:
            self.pause()
            self.direction.finish()
        return n

    def _read_once(self) -> None:
        d = self.direction
        if self._splice_in is not None:
            if not d.chain and not d.pending:
                self._splice_once()
                return
            self._close_pipe()  # a toxic came: its chain needs the bytes (the pipe is empty)
        n = self._take(self._recv_chunk)
        if not n:
            return
        if not d.chain and not d.pending:
            if n >= SPLICE_FROM and HAS_SPLICE:
                self._open_pipe()
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

    def _open_pipe(self) -> None:
        """Splice from the next chunk on (a pipe of this reader's own; none when the process is
        out of file descriptors: it stays on ``recv_into``)."""
        try:
            self._pipe = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError:
            self._pipe = None
            return
        self._splice_in = functools.partial(
            os.splice, self._src_fd, self._pipe[1], RECV_SIZE, flags=_SPLICE_FLAGS
        )

    def _splice_once(self) -> None:
        """Source -> pipe -> destination in the kernel; what the destination does not take stays
        in the pipe, and reading pauses until the write watcher has moved it out."""
        assert self._splice_in is not None
        n = self._take(self._splice_in)
        if not n:
            return
        self._in_pipe = n
        self.spliced += n
        if not self._drain_pipe():
            return
        self._small = self._small + 1 if n < SPLICE_FROM else 0
        if self._in_pipe:
            self.pause()
            self._writable.start(self._on_pipe_writable)
        elif self._small >= SMALL_RUN:
            self._close_pipe()  # small chunks again: back to recv_into

    def _drain_pipe(self) -> bool:
        """Move what the pipe holds to the destination, as much as it takes now; False when the
        connection ended."""
        assert self._pipe is not None
        try:
            while self._in_pipe:
                self._in_pipe -= os.splice(
                    self._pipe[0], self._dst_fd, self._in_pipe, flags=_SPLICE_FLAGS
                )
        except (BlockingIOError, InterruptedError):
            pass
        except OSError:
            self._writable.stop()
            self.link.close()
            return False
        return True

    def _on_pipe_writable(self) -> None:
        if self._pipe is None or self.link.closed:
            self._writable.stop()
            return
        if self._drain_pipe() and not self._in_pipe:
            self._writable.stop()
            self.start()

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
