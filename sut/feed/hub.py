"""Feed hub: assigns sequence numbers, keeps the replay buffer, fans messages out to subscribers.

Sequence numbers are strictly increasing across the whole feed. The replay buffer holds the last
``replay_size`` messages in process (authoritative) and mirrors them to a capped Redis list, from
which a restarted SUT continues its sequence and its buffer. The buffer is always contiguous.

Subscribing is atomic with respect to publishing (no greenlet switch in between): the backlog is a
snapshot of the buffer after ``since`` and every later message goes to the subscriber's queue, so
the hand-over from replay to live has no gap and no duplicate.
"""

from __future__ import annotations

import itertools
import json
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

import gevent.event

log = logging.getLogger("sut.feed")


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

    def render(self) -> str:
        return json.dumps(
            {
                "type": "gap",
                "from": self.first,
                "to": self.last,
                "reason": "replay buffer exhausted",
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


class FeedHub:
    def __init__(
        self,
        replay_size: int,
        queue_limit: int,
        mirror: Callable[[FeedMessage], None] | None = None,
    ) -> None:
        self.replay_size = replay_size
        self.queue_limit = queue_limit
        self.seq = 0
        self.buffer: deque[FeedMessage] = deque(maxlen=replay_size)
        self.subscribers: set[Subscriber] = set()
        self.mirror = mirror
        self.dropped_slow = 0

    def restore(self, stored: list[str], last_seq: int) -> None:
        """Continue from a previous run's Redis state: its sequence and its buffer's newest run."""
        messages: list[FeedMessage] = []
        for text in stored:
            try:
                messages.append(FeedMessage.from_stored(text))
            except ValueError:
                continue
        messages.sort(key=lambda m: m.seq)
        tail: list[FeedMessage] = []
        for msg in reversed(messages):  # keep only the contiguous run ending at the newest
            if tail and msg.seq != tail[-1].seq - 1:
                if msg.seq == tail[-1].seq:
                    continue  # a duplicate left by a retried write
                break
            tail.append(msg)
        tail.reverse()
        self.buffer.extend(tail[-self.replay_size :])
        newest = tail[-1].seq if tail else 0
        self.seq = max(self.seq, last_seq, newest)
        if self.buffer and self.buffer[-1].seq != self.seq:
            self.buffer.clear()  # the stored sequence ran ahead of the list: keep nothing stale
        log.info(
            "feed restored: seq=%d, %d messages in the replay buffer", self.seq, len(self.buffer)
        )

    def publish(self, type_: str, data: dict[str, object]) -> FeedMessage:
        self.seq += 1
        msg = FeedMessage(self.seq, type_, json.dumps(data, separators=(",", ":")))
        self.buffer.append(msg)
        for sub in self.subscribers:
            sub.push(msg)
        if self.mirror is not None:
            self.mirror(msg)
        return msg

    def subscribe(self, since: int | None) -> tuple[Subscriber, Gap | None, list[FeedMessage]]:
        """Register a subscriber; return it, a gap notice if ``since`` is too old, the backlog."""
        sub = Subscriber(self.queue_limit)
        self.subscribers.add(sub)
        if since is None or since >= self.seq:
            return sub, None, []
        first = self.buffer[0].seq if self.buffer else self.seq + 1
        gap = Gap(since + 1, first - 1) if since + 1 < first else None
        start = max(0, since + 1 - first)
        return sub, gap, list(itertools.islice(self.buffer, start, None))

    def unsubscribe(self, sub: Subscriber) -> None:
        self.subscribers.discard(sub)
