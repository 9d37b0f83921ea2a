"""A trivial locustfile for the chaos plugin tests: Redis PINGs through a proxied route.

Environment: ``CB_TEST_PORT`` (the route's listen port), ``CB_TEST_OUT`` (a JSON file written when
chaos stops and at quitting: journal, status, samples, what the proxy API shows),
``CB_TEST_CRASH=1`` (raise an exception in Locust's main greenlet shortly after the first inject).
"""

from __future__ import annotations

import json
import os
import socket
import time
from typing import Any

import gevent
from locust import User, constant, events, task

import chaosbench.harness  # noqa: F401
from chaosbench.ground.state import RunState
from chaosbench.proxy.client import ToxiproxyClient
from chaosbench.wiring.harness import Harness

PORT = int(os.environ.get("CB_TEST_PORT", "0"))
OUT = os.environ.get("CB_TEST_OUT")
SAMPLES: list[tuple[float, float, bool, str]] = []


class PingUser(User):
    wait_time = constant(0.02)

    def on_start(self) -> None:
        self.sock: socket.socket | None = None

    @task
    def ping(self) -> None:
        wall, t0 = time.time(), time.perf_counter()
        exc: Exception | None = None
        try:
            if self.sock is None:
                self.sock = socket.create_connection(("127.0.0.1", PORT), timeout=3)
            self.sock.sendall(b"PING\r\n")
            data = b""
            while not data.endswith(b"\r\n"):
                chunk = self.sock.recv(64)
                if not chunk:
                    raise ConnectionError("closed")
                data += chunk
            if data != b"+PONG\r\n":
                raise ConnectionError(f"unexpected {data!r}")
        except OSError as e:
            exc = e
            if self.sock is not None:
                self.sock.close()
            self.sock = None
        dt = time.perf_counter() - t0
        label = RunState.of(self.environment).timeline.at(wall).label
        SAMPLES.append((wall, dt, exc is None, label))
        events.request.fire(
            request_type="redis", name="PING", response_time=dt * 1000, response_length=0,
            exception=exc, context={},
        )  # fmt: skip


def dump(h: Harness) -> None:
    if not OUT:
        return
    s = h.scheduler
    data: dict[str, Any] = {
        "journal": [r.to_dict() for r in s.journal] if s else [],
        "status": s.status() if s else None,
        "disabled": h.disabled_reason,
        "samples": SAMPLES,
        "marks": [m.to_dict() for m in h.state.timeline.marks],
    }
    if h.proxy is not None:
        try:
            proxies = ToxiproxyClient(h.proxy.url, timeout=2).proxies()
            data["proxies"] = {
                n: {"enabled": p.enabled, "toxics": [t.name for t in p.toxics]}
                for n, p in proxies.items()
            }
        except Exception as exc:
            data["proxies_error"] = str(exc)
    tmp = OUT + ".tmp"
    with open(tmp, "w") as fh:
        json.dump(data, fh)
    os.replace(tmp, OUT)


def _raise() -> None:
    # gevent hands a SystemError of a greenlet to the main greenlet: Locust's main() dies.
    raise SystemError("test crash in the main greenlet")


def _crash(record: Any) -> None:
    gevent.spawn_later(0.3, _raise)


@events.init.add_listener
def _on_init(environment: Any, **_kw: Any) -> None:
    h = Harness.of(environment)
    chaos = h.state.events
    chaos.chaos_stopped.add_listener(lambda **_: dump(h))
    chaos.phase_changed.add_listener(lambda mark, planned_wall: dump(h) if mark.faults else None)
    events.quitting.add_listener(lambda **_: dump(h))
    if os.environ.get("CB_TEST_CRASH") == "1":
        chaos.fault_injected.add_listener(_crash)
