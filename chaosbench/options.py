"""Locust options for the load users: targets, mix, deadlines (``--cb-*``)."""

from __future__ import annotations

from locust.event import Events


def install(events: Events) -> None:
    """Register the load options on Locust's ``init_command_line_parser``."""
