"""Wiring of the results half into Locust.

Recording, run directory, streaming and the verdict: options, test_start/quitting, messages.

Called once from ``locustfiles/_harness.py`` through ``install(events)``.
"""

from __future__ import annotations

from locust.event import Events


def install(events: Events) -> None:
    """Register the results options and listeners on Locust's events."""
