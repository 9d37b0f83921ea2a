"""Per-client rate limit in Redis: a fixed one-second window per client.

``INCR <prefix>rl:<client>:<second>`` plus an expiry, in one round trip. Over the limit the API
answers 429 with ``Retry-After`` (whole seconds until the window ends, at least 1). When Redis is
down or slow the limiter FAILS OPEN: requests are let through (counted in ``fail_open``), because
refusing all traffic when the limiter's store is down would turn a cache outage into a full outage.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import redis

from chaosbench.sut.backends.breaker import Unavailable
from chaosbench.sut.backends.redisio import RedisBackend


@dataclass(frozen=True)
class Decision:
    allowed: bool
    retry_after: int = 0
    remaining: int = -1
    fetched: bool = False  # ``prefetch`` was read in the same round trip
    value: bytes | str | None = None


class RateLimiter:
    def __init__(self, backend: RedisBackend, limit: int) -> None:
        self.backend = backend
        self.limit = limit
        self.fail_open = 0
        self.limited = 0

    def check(self, client: str, prefetch: str | None = None) -> Decision:
        """Count this request; with ``prefetch``, also GET that key in the same round trip
        (a quote or a cached order: the request's own read, one Redis round trip in all)."""
        if self.limit <= 0:
            return Decision(True)
        now = time.time()
        window = int(now)
        key = self.backend.key("rl", client, str(window))

        def incr(r: redis.Redis) -> list[Any]:
            pipe = r.pipeline(transaction=False)
            pipe.incr(key)
            pipe.expire(key, 2)
            if prefetch is not None:
                pipe.get(prefetch)
            return list(pipe.execute())

        try:
            replies = self.backend.call(incr)
        except Unavailable:
            self.fail_open += 1
            return Decision(True)
        count = int(replies[0])
        if count > self.limit:
            self.limited += 1
            return Decision(False, retry_after=max(1, math.ceil(window + 1 - now)))
        if prefetch is None:
            return Decision(True, remaining=self.limit - count)
        return Decision(True, remaining=self.limit - count, fetched=True, value=replies[2])
