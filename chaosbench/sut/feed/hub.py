"""Feed hub: assigns sequence numbers, keeps the replay buffer, fans messages out to subscribers.

Sequence numbers are strictly increasing over the whole feed and, within one process, consecutive.
The replay buffer holds the last ``replay_size`` messages in process (authoritative) and mirrors
them to a capped Redis list, from which a restarted SUT restores its buffer.

Numbers are never reused, even after a crash: Redis holds a *lease*, a number above every one
handed out (written synchronously at start, then in the background well before the feed reaches
it). A restarted process continues above the lease; the numbers between the last persisted
message and the lease are a hole that clients resuming across it are told about (a gap notice).
The lease runs about ``LEASE_SECONDS`` of messages ahead (at the current rate, at least
``LEASE_MIN``), so a crash costs resuming clients at most that many numbers, most of them never
handed out.

Subscribing is atomic with respect to publishing (no greenlet switch in between): the backlog is a
snapshot of the buffer after ``since`` and every later message goes to the subscriber's queue, so
the hand-over from replay to live has no gap and no duplicate.
"""

from __future__ import annotations

import json
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import gevent.event

log = logging.getLogger("chaosbench.sut.feed")

LEASE_MIN = 20
LEASE_SECONDS = 0.5
GAP_BUFFER = "replay buffer exhausted"
GAP_RESTART = "sequence numbers skipped at a restart"


@dataclass(frozen=True, slots=True)
class FeedMessage:
    seq: int
    type: str
    data_json: str

    def render(self) -> str:
        """The JSON text, with ``server_time`` taken now (just before the send)."""
        return (
            f'{{"seq":{self.seq},"type":"{self.type}","server_time":{time.time():.6f},'
            f'"data":{self.data_json}}}'
        )

    def stored(self) -> str:
        return f"{self.seq}\t{self.type}\t{self.data_json}"

    @classmethod
    def from_stored(cls, text: str) -> FeedMessage:
        seq, type_, data_json = text.split("\t", 2)
        return cls(int(seq), type_, data_json)


@dataclass(frozen=True)
class Gap:
    first: int
    last: int
    reason: str

    def render(self) -> str:
        return json.dumps(
            {
                "type": "gap",
                "from": self.first,
                "to": self.last,
                "reason": self.reason,
                "server_time": time.time(),
            }
        )


class Subscriber:
    """A client's bounded queue. Overflow marks it lagging; its session then disconnects it."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.queue: deque[FeedMessage] = deque()
        self.ready = gevent.event.Event()
        self.overflowed = False
        self.on_overflow: Callable[[], object] | None = None

    def push(self, msg: FeedMessage) -> None:
        if self.overflowed:
            return
        if len(self.queue) >= self.limit:
            self.overflowed = True
            self.queue.clear()
            if self.on_overflow is not None:
                self.on_overflow()
        else:
            self.queue.append(msg)
        self.ready.set()

    def take(self) -> list[FeedMessage]:
        items = list(self.queue)
        self.queue.clear()
        self.ready.clear()
        return items


class SequenceCheck:
    """Per client: turns any jump in the numbers it is sent into an explicit gap notice, and
    drops anything at or below what it already has. Never a silent skip, never a duplicate."""

    def __init__(self, hub: FeedHub, since: int | None) -> None:
        self.hub = hub
        self.expected = None if since is None else since + 1

    def admit(self, msg: FeedMessage) -> tuple[Gap | None, bool]:
        """(gap notice to send first or None, whether to send ``msg``)."""
        if self.expected is not None and msg.seq < self.expected:
            return None, False
        gap = None
        if self.expected is not None and msg.seq > self.expected:
            gap = Gap(self.expected, msg.seq - 1, self.hub.gap_reason(self.expected, msg.seq - 1))
        self.expected = msg.seq + 1
        return gap, True


class FeedHub:
    def __init__(
        self,
        replay_size: int,
        queue_limit: int,
        mirror: Callable[[FeedMessage], None] | None = None,
        lease: Callable[[int], None] | None = None,
    ) -> None:
        self.replay_size = replay_size
        self.queue_limit = queue_limit
        self.seq = 0
        self.buffer: deque[FeedMessage] = deque(maxlen=replay_size)
        self.subscribers: set[Subscriber] = set()
        self.mirror = mirror
        self.lease = lease
        self.leased = 0
        self.restart_hole: tuple[int, int] | None = None
        self.dropped_slow = 0
        self._window_start = time.monotonic()
        self._window_count = 0
        self._rate = 0.0

    def restore(self, stored: list[str], leased: int) -> None:
        """Continue from a previous run's Redis state: its buffer's newest contiguous run, and
        numbers above its lease."""
        messages: list[FeedMessage] = []
        for text in stored:
            try:
                messages.append(FeedMessage.from_stored(text))
            except ValueError:
                continue
        messages.sort(key=lambda m: m.seq)
        tail: list[FeedMessage] = []
        for msg in reversed(messages):  # keep only the contiguous run ending at the newest
            if tail and msg.seq == tail[-1].seq:
                continue  # a duplicate left by a retried write
            if tail and msg.seq != tail[-1].seq - 1:
                break
            tail.append(msg)
        tail.reverse()
        self.buffer.extend(tail[-self.replay_size :])
        newest = tail[-1].seq if tail else 0
        self.seq = max(self.seq, leased, newest)
        if self.seq > newest:
            self.restart_hole = (newest + 1, self.seq)
        log.info(
            "feed restored: continuing after seq %d, %d messages in the replay buffer",
            self.seq, len(self.buffer),
        )  # fmt: skip

    def lease_step(self) -> int:
        """About ``LEASE_SECONDS`` of messages at the recent rate, at least ``LEASE_MIN``."""
        now = time.monotonic()
        elapsed = now - self._window_start
        if elapsed >= 1.0:
            self._rate = self._window_count / elapsed
            self._window_start, self._window_count = now, 0
        return max(LEASE_MIN, int(max(self._rate, self._window_count) * LEASE_SECONDS))

    def next_lease(self, step: int = LEASE_MIN) -> int:
        """Take a new lease (the caller persists it)."""
        self.leased = self.seq + step
        return self.leased

    def gap_reason(self, first: int, last: int) -> str:
        hole = self.restart_hole
        if hole is not None and hole[0] <= first and last <= hole[1]:
            return GAP_RESTART
        return GAP_BUFFER

    def publish(self, type_: str, data: dict[str, object]) -> FeedMessage:
        self.seq += 1
        msg = FeedMessage(self.seq, type_, json.dumps(data, separators=(",", ":")))
        self.buffer.append(msg)
        for sub in self.subscribers:
            sub.push(msg)
        if self.mirror is not None:
            self.mirror(msg)
        self._window_count += 1
        if self.lease is not None:
            step = self.lease_step()
            if self.seq + step // 2 >= self.leased:
                self.lease(self.next_lease(step))
        return msg

    def subscribe(self, since: int | None) -> tuple[Subscriber, SequenceCheck, list[FeedMessage]]:
        """Register a subscriber; return it, its sequence check, and the backlog after ``since``.

        A ``since`` older than the buffer shows up as a gap notice before the first message sent.
        """
        sub = Subscriber(self.queue_limit)
        self.subscribers.add(sub)
        if since is not None and since > self.seq:
            since = None  # a number this feed never reached (its state was lost): go live
        check = SequenceCheck(self, since)
        if since is None or since >= self.seq:
            return sub, check, []
        # by number, not by index: after a restart the buffer jumps over the restart hole
        backlog: list[FeedMessage] = []
        for msg in reversed(self.buffer):
            if msg.seq <= since:
                break
            backlog.append(msg)
        backlog.reverse()
        return sub, check, backlog

    def unsubscribe(self, sub: Subscriber) -> None:
        self.subscribers.discard(sub)
