"""Harness events, fired with keyword arguments like Locust's own (``locust.event.EventHook``).

Listen with ``chaos.events.EVENTS.phase_changed.add_listener(fn)``. Every hook is fired from the
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

from locust.event import EventHook


class ChaosEvents:
    phase_changed: EventHook
    fault_injected: EventHook
    fault_reverted: EventHook
    chaos_stopped: EventHook

    def __init__(self) -> None:
        for name in ("phase_changed", "fault_injected", "fault_reverted", "chaos_stopped"):
            setattr(self, name, EventHook())


EVENTS = ChaosEvents()
