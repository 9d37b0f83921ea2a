"""Process-wide integrity counters that the load users feed and the results read.

- acknowledged orders: every order id the system under test acknowledged (201), with its
  client order id, so that the end-of-run check can count lost and duplicated orders;
- WebSocket stream counters: messages, gaps (missing sequence numbers), duplicates, reorders,
  resumes.

All methods are cheap and non-blocking (called on the users' request path).
"""

from __future__ import annotations

from dataclasses import dataclass, field


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


COUNTERS = IntegrityCounters()
