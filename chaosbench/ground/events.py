"""Harness events, fired with keyword arguments like Locust's own (``locust.event.EventHook``).

The hook is a small copy of Locust's so that importing the chaos core never imports Locust (whose
import monkey-patches the process): the scheduler, faults and proxy run in plain processes too.

Each run has its own ``ChaosEvents`` (``RunState.of(environment).events``); listen with
``RunState.of(environment).events.phase_changed.add_listener(fn)``. Every hook is fired from the
scheduler greenlet; listeners must not block (no I/O that is not gevent-cooperative).

``phase_changed(mark: PhaseMark, planned_wall: float)``
    A new phase began. ``mark.wall`` is the actual time, ``planned_wall`` the scheduled one.
``fault_injected(record: JournalRecord)``
    A fault's ``inject()`` finished (``record.status`` is ``ok``, ``error`` or ``dry_run``).
``fault_reverted(record: JournalRecord)``
    A fault's ``revert()`` finished.
``chaos_stopped(reason: str)``
    The scheduler stopped: ``completed``, ``test_stop``, ``kill_switch``, ``signal`` or ``error``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

log = logging.getLogger("chaosbench.chaos")


class EventHook:
    """Listeners called in order with the keyword arguments of ``fire``; a listener that raises
    is logged and does not stop the others (a broken listener must not stop the chaos)."""

    def __init__(self) -> None:
        self._handlers: list[Callable[..., Any]] = []

    def add_listener(self, handler: Callable[..., Any]) -> Callable[..., Any]:
        self._handlers.append(handler)
        return handler

    def remove_listener(self, handler: Callable[..., Any]) -> None:
        self._handlers.remove(handler)

    def fire(self, **kwargs: Any) -> None:
        for handler in list(self._handlers):
            try:
                handler(**kwargs)
            except Exception:
                log.exception("chaos event listener %r failed", handler)


class ChaosEvents:
    phase_changed: EventHook
    fault_injected: EventHook
    fault_reverted: EventHook
    chaos_stopped: EventHook

    def __init__(self) -> None:
        for name in ("phase_changed", "fault_injected", "fault_reverted", "chaos_stopped"):
            setattr(self, name, EventHook())
