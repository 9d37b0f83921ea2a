"""Shared by the test scripts: run in a fresh, gevent-patched process (Locust patches on import),
drive chaosbench users directly, and print one JSON line of results for the test to assert on."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gevent
import locust  # noqa: F401  (monkey-patching first)
from locust.env import Environment

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "users"))

from chaosbench.users.options import LoadOptions, set_load_options  # noqa: E402


class Recorder:
    """Every request event fired in the environment."""

    def __init__(self, env: Environment) -> None:
        self.events: list[dict[str, Any]] = []
        env.events.request.add_listener(self._on)

    def _on(self, **kw: Any) -> None:
        kw = dict(kw)
        exc = kw.get("exception")
        kw["exception"] = None if exc is None else f"{type(exc).__name__}: {exc}"
        kw.pop("response", None)
        self.events.append(kw)

    def named(self, request_type: str, name: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e["request_type"] == request_type and e["name"] == name]


def make_env(
    user_classes: list[type], opts: LoadOptions | None = None
) -> tuple[Environment, Recorder]:
    env = Environment(user_classes=user_classes)
    set_load_options(env, opts or LoadOptions())
    return env, Recorder(env)


def wait_for(cond: Callable[[], object], timeout: float = 15.0, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        gevent.sleep(0.02)
    emit({"error": f"timed out waiting for {what}"})
    sys.exit(1)


def emit(result: dict[str, Any]) -> None:
    print("RESULT " + json.dumps(result, default=str), flush=True)
