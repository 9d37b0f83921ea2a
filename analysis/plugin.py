"""Wiring of the results half (recording, run directory, streaming, verdict) into Locust (options, test_start/test_stop, messages).

Called once from ``locustfiles/_harness.py`` through ``install(events)``.
"""

from __future__ import annotations

from locust.event import Events


def install(events: Events) -> None:
    """Register the results options and listeners on Locust's events."""
