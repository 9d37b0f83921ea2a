"""The chaos plugin tests' locustfile plus an init listener (after the harness's) that raises:
an exception in init once the fault proxy child has started (tests/test_proxy_process.py)."""

from __future__ import annotations

from typing import Any

from locust import events

from tests.chaos.chaos_locustfile import PingUser

__all__ = ["PingUser"]


@events.init.add_listener
def _boom(**_kw: Any) -> None:
    raise RuntimeError("an init listener failed on purpose")
