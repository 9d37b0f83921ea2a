"""One direction of a proxied connection: bytes in, TCP toxics, bytes out.

Fast path: with no toxic on this direction and nothing queued, a chunk is written straight to
the destination by the greenlet that read it (one ``sendall``, no copy, no queue). With toxics,
chunks are stamped with their arrival time and queued to a writer greenlet that runs them
through the toxic chain, so that a delay applies per chunk from its arrival (pipelined, as in
Toxiproxy) and the reader keeps reading.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable

import gevent
import gevent.event
import gevent.queue

from chaosbench.proxy.handles import Connection, Resumable
from chaosbench.proxy.toxics.base import CloseLink, Out, TcpState

_EOF = object()
HIGH_WATER = 64  # queued chunks at which the source stops being read (back-pressure)
LOW_WATER = 8  # ... and is read again


class Direction:
    def __init__(self, link: Connection, stream: str, dst: socket.socket) -> None:
        self.link = link
        self.stream = stream
        self.dst = dst
        self.chain: list[TcpState] = []
        self.pending = 0
        self.finished = False
        self._queue: gevent.queue.SimpleQueue | None = None
        self._writer: gevent.Greenlet | None = None
        self.on_done: Callable[[], None] | None = None
        self.paused_reader: Resumable | None = None
        self._drained: gevent.event.Event | None = None

    # -- input -------------------------------------------------------------------------------

    def deliver(self, data: bytes) -> None:
        """Pass ``data`` on towards the destination (may yield; never reorders)."""
        if not self.chain and not self.pending:
            self.dst.sendall(data)
            return
        self.pending += 1
        self.enqueue((data, time.monotonic()))
        while self.pending >= HIGH_WATER and not self.link.closed:
            if self._drained is None:
                self._drained = gevent.event.Event()
            self._drained.clear()
            self._drained.wait()

    def finish(self) -> None:
        """The source closed: pass the close on after everything queued (and slow_close)."""
        if self.finished:
            return
        self.finished = True
        if not self.chain and not self.pending:
            self._shutdown()
        else:
            self.pending += 1
            self.enqueue(_EOF)

    # -- writer ------------------------------------------------------------------------------

    def enqueue(self, item: object) -> None:
        """Queue a ``(data, t)`` chunk (or the end) for the writer greenlet; never blocks."""
        if self._queue is None:
            self._queue = gevent.queue.SimpleQueue()
        self._queue.put(item)
        if self._writer is None:
            self._writer = self.link.spawn(self._write_loop)

    def _write_loop(self) -> None:
        assert self._queue is not None
        try:
            while True:
                item = self._queue.get()
                chain = list(self.chain)
                if item is _EOF:
                    for state in chain:
                        state.on_eof()
                    self.pending -= 1
                    self._shutdown()
                    return
                assert isinstance(item, tuple)
                data, t = item
                self._run_chain(chain, data, t)
                self.pending -= 1
                if self.pending <= LOW_WATER:
                    if self.paused_reader is not None:
                        reader, self.paused_reader = self.paused_reader, None
                        reader.start()
                    if self._drained is not None:
                        self._drained.set()
        except CloseLink as exc:
            self.link.close(reset=exc.reset)
        except OSError:
            self.link.close()

    def _run_chain(self, chain: list[TcpState], data: bytes, t: float) -> None:
        def sink(d: bytes, _t: float) -> None:
            if d:
                self.dst.sendall(d)

        out: Out = sink
        for state in reversed(chain):
            out = _stage(state, out)
        out(data, t)

    def _shutdown(self) -> None:
        try:
            self.dst.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        if self.on_done is not None:
            self.on_done()


def _stage(state: TcpState, nxt: Out) -> Out:
    def run(data: bytes, t: float) -> None:
        if state.toxic.removed.is_set():
            nxt(data, t)
        else:
            state.process(data, t, nxt)

    return run
