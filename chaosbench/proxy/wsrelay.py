"""Server-to-client WebSocket traffic of an upgraded ``protocol: http`` connection: frames are
parsed into messages and, when WebSocket toxics are on, run through them in order."""

from __future__ import annotations

import time
from typing import Protocol

import gevent
import gevent.queue

from chaosbench.proxy.direction import Direction
from chaosbench.proxy.handles import Connection
from chaosbench.proxy.toxics.base import MsgOut, WsMessage, WsState
from chaosbench.proxy.wsframes import OP_CLOSE, MessageParser

_WAKE = object()
TICK = 0.1


class WsLink(Connection, Protocol):
    """What a relay uses of its connection (a ``Link``)."""

    @property
    def down(self) -> Direction | None: ...

    @property
    def ws_chain(self) -> list[WsState]: ...


class WsRelay:
    def __init__(self, link: WsLink) -> None:
        self.link = link
        self.parser = MessageParser()
        self.pending = 0
        self.retired: list[WsState] = []
        self._queue: gevent.queue.Queue | None = None
        self._proc: gevent.Greenlet | None = None

    def feed(self, data: bytes) -> None:
        link = self.link
        assert link.down is not None
        for msg in self.parser.feed(data, time.monotonic()):
            if not link.ws_chain and not self.pending and self._proc is None:
                link.down.deliver(msg.raw)
            else:
                self.pending += 1
                self._put(msg)

    def retire(self, state: WsState) -> None:
        """A WebSocket toxic was removed: what it holds is released at once."""
        self.retired.append(state)
        self._put(_WAKE)

    def _put(self, item: object) -> None:
        if self._queue is None:
            self._queue = gevent.queue.Queue()
        self._queue.put(item)
        if self._proc is None:
            self._proc = self.link.spawn(self._run)

    def _sink(self, msg: WsMessage) -> None:
        assert self.link.down is not None
        self.link.down.deliver(msg.raw)

    def _run(self) -> None:
        assert self._queue is not None
        try:
            while True:
                try:
                    item: object = self._queue.get(timeout=TICK)
                except gevent.queue.Empty:
                    item = None
                while self.retired:
                    self.retired.pop(0).flush(self._sink)
                chain = list(self.link.ws_chain)
                outs = self._outs(chain)
                if isinstance(item, WsMessage):
                    outs[0](item)
                    self.pending -= 1
                elif item is None:
                    now = time.monotonic()
                    for i, state in enumerate(chain):
                        state.tick(now, outs[i + 1])
                    if not chain and not self.pending:
                        break
        except OSError:
            self.link.close()
        finally:
            self._proc = None

    def _outs(self, chain: list[WsState]) -> list[MsgOut]:
        outs: list[MsgOut] = [self._sink]
        for state in reversed(chain):
            outs.insert(0, _stage(state, outs[0]))
        return outs


def _stage(state: WsState, nxt: MsgOut) -> MsgOut:
    def run(msg: WsMessage) -> None:
        if msg.opcode == OP_CLOSE:  # nothing may arrive after the close: release what is held
            state.flush(nxt)
            nxt(msg)
        elif msg.control or state.toxic.removed.is_set():
            nxt(msg)
        else:
            state.process(msg, nxt)

    return run
