"""Integrity counters that the load users feed and the results read (one set per run).

- acknowledged orders: every order id the system under test acknowledged (201), with its
  client order id, so that the end-of-run check can count lost and duplicated orders;
- WebSocket stream counters: messages, gaps (missing sequence numbers), duplicates, reorders,
  resumes.

All methods are cheap and non-blocking (called on the users' request path).

On a distributed run each worker sends :class:`CountersReport` messages (the orders acknowledged
since its last report, its stream totals, canary orders) to the master, which keeps one
:class:`IntegrityCounters` per worker and checks :func:`merge` of them all at the end.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

STREAM_FIELDS = ("ws_messages", "ws_gaps", "ws_duplicates", "ws_reorders", "ws_resumes")


@dataclass
class IntegrityCounters:
    acked_orders: dict[str, str] = field(default_factory=dict)  # order id -> client order id
    ws_messages: int = 0
    ws_gaps: int = 0
    ws_duplicates: int = 0
    ws_reorders: int = 0
    ws_resumes: int = 0
    #: order ids the integrity_canary fault corrupted or deleted on purpose (the end-of-run check
    #: must find exactly these); ``canary_actions`` says what was done to each.
    canary_orders: set[str] = field(default_factory=set)
    canary_actions: dict[str, str] = field(default_factory=dict)

    def canary_applied(self, order_id: str, action: str) -> None:
        self.canary_orders.add(str(order_id))
        self.canary_actions[str(order_id)] = action

    def order_acknowledged(self, order_id: str, client_order_id: str) -> None:
        self.acked_orders[str(order_id)] = client_order_id

    def ws_stream(
        self,
        messages: int = 0,
        gaps: int = 0,
        duplicates: int = 0,
        reorders: int = 0,
        resumes: int = 0,
    ) -> None:
        self.ws_messages += messages
        self.ws_gaps += gaps
        self.ws_duplicates += duplicates
        self.ws_reorders += reorders
        self.ws_resumes += resumes

    def reset(self) -> None:
        self.acked_orders.clear()
        self.ws_messages = self.ws_gaps = self.ws_duplicates = self.ws_reorders = 0
        self.ws_resumes = 0
        self.canary_orders.clear()
        self.canary_actions.clear()

    def stream(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in STREAM_FIELDS}

    def report(self, since: int = 0) -> CountersReport:
        """What a worker sends: orders acknowledged after the first ``since``, stream totals,
        canary orders. ``len(self.acked_orders)`` is the ``since`` of the next report."""
        items = list(self.acked_orders.items())[since:]
        return CountersReport(acked=items, stream=self.stream(), canary=dict(self.canary_actions))

    def absorb(self, report: CountersReport) -> None:
        """Take a worker's report: new acknowledged orders added, stream totals replaced."""
        self.acked_orders.update(report.acked)
        for name in STREAM_FIELDS:
            setattr(self, name, int(report.stream.get(name, 0)))
        for oid, action in report.canary.items():
            self.canary_applied(oid, action)


@dataclass
class CountersReport:
    """A worker's counters for the master (plain data in a Locust message)."""

    acked: list[tuple[str, str]] = field(default_factory=list)
    stream: dict[str, int] = field(default_factory=dict)
    canary: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "acked": [list(p) for p in self.acked],
            "stream": self.stream,
            "canary": self.canary,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> CountersReport:
        return cls(
            acked=[(str(a), str(b)) for a, b in d.get("acked", [])],
            stream={str(k): int(v) for k, v in (d.get("stream") or {}).items()},
            canary={str(k): str(v) for k, v in (d.get("canary") or {}).items()},
        )


def merge(parts: Iterable[IntegrityCounters]) -> IntegrityCounters:
    """All processes' counters as one: acknowledged orders united by order id, stream counters
    summed, canary orders united."""
    out = IntegrityCounters()
    for part in parts:
        out.acked_orders.update(part.acked_orders)
        out.ws_stream(
            part.ws_messages, part.ws_gaps, part.ws_duplicates, part.ws_reorders, part.ws_resumes
        )
        for oid, action in part.canary_actions.items():
            out.canary_applied(oid, action)
        out.canary_orders |= part.canary_orders
    return out
