"""The locustfile of the Chaos tab's screenshots (make_screenshots.py): Redis PINGs of two kinds,
``redis`` through the proxied route (``CB_TEST_PORT``, where the faults are) and
``redis-direct`` straight to Redis (a kind no fault touches)."""

from __future__ import annotations

import os
import time

import redis
from locust import User, constant, events, task

import chaosbench.harness  # noqa: F401

ROUTES = {"redis": int(os.environ.get("CB_TEST_PORT", "0")), "redis-direct": 6379}


class _Ping(User):
    abstract = True
    wait_time = constant(0.02)
    kind = "redis"

    def on_start(self) -> None:
        port = ROUTES[self.kind]
        self.client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=3, retry=None)

    @task
    def ping(self) -> None:
        t0 = time.perf_counter()
        exc: Exception | None = None
        try:
            self.client.ping()
        except redis.RedisError as e:
            exc = e
        events.request.fire(
            request_type=self.kind, name="PING", response_time=(time.perf_counter() - t0) * 1000,
            response_length=0, exception=exc, context={},
        )  # fmt: skip


class ProxiedPing(_Ping):
    kind = "redis"


class DirectPing(_Ping):
    kind = "redis-direct"
