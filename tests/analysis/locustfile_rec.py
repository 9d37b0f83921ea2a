"""A tiny locustfile for the results tests: real Redis requests (optionally through the chaos
fault proxy), reported through Locust's request event with request_type REDIS."""

from __future__ import annotations

import os
import time

import redis
from locust import User, constant, task

import chaosbench.harness  # noqa: F401  (the harness under test)

REDIS_URL = os.environ.get("CB_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
PREFIX = os.environ.get("CB_TEST_PREFIX", "cbt_rec")
WAIT = float(os.environ.get("CB_TEST_WAIT", "0.02"))
DEADLINE_MS = float(os.environ.get("CB_TEST_DEADLINE_MS", "5"))


class RedisPinger(User):
    wait_time = constant(WAIT)

    def on_start(self) -> None:
        self.client = redis.Redis.from_url(
            REDIS_URL, socket_timeout=2, socket_connect_timeout=2, client_name=f"{PREFIX}_user"
        )

    def _call(self, name: str, fn: object) -> None:
        start = time.time()
        t0 = time.perf_counter()
        exc: Exception | None = None
        try:
            fn()  # type: ignore[operator]
        except Exception as e:  # reported as a failure sample
            exc = e
        self.environment.events.request.fire(
            request_type="REDIS",
            name=name,
            response_time=(time.perf_counter() - t0) * 1000.0,
            response_length=0,
            exception=exc,
            context={"deadline_ms": DEADLINE_MS},
            start_time=start,
        )

    @task(3)
    def get(self) -> None:
        self._call("GET", lambda: self.client.get(f"{PREFIX}:k"))

    @task(1)
    def set(self) -> None:
        self._call("SET", lambda: self.client.set(f"{PREFIX}:k", "v", ex=60))
