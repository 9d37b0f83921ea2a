"""Wiring of the chaos half into Locust (options, test_start/test_stop, messages).

Called once from ``locustfiles/_harness.py`` through ``install(events)``.
"""

from __future__ import annotations

from locust.event import Events


def install(events: Events) -> None:
    """Register the chaos options and listeners on Locust's events."""
