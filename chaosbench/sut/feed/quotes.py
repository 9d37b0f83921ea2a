"""Quote generator: a seeded random walk per symbol, ``rate`` quotes per second in total.

Each quote goes on the feed at once and to Redis (``<prefix>quote:<SYMBOL>``) through the
background writer, so a slow Redis never slows the feed down.
"""

from __future__ import annotations

import json
import random
import time

import gevent

from chaosbench.sut.backends.redisio import RedisBackend, Writer
from chaosbench.sut.feed.hub import FeedHub

SYMBOLS = {"BTCUSD": 65000.0, "ETHUSD": 3200.0, "SOLUSD": 150.0, "XRPUSD": 0.6, "ADAUSD": 0.45}


class QuoteGenerator:
    def __init__(
        self, hub: FeedHub, backend: RedisBackend, writer: Writer, rate: float, seed: int = 7
    ) -> None:
        self.hub = hub
        self.backend = backend
        self.writer = writer
        self.rate = rate
        self.mid = dict(SYMBOLS)
        self.random = random.Random(seed)
        self.count = 0
        self._greenlet: gevent.Greenlet | None = None

    def quote(self, symbol: str) -> dict[str, object]:
        mid = self.mid[symbol] * (1.0 + self.random.gauss(0.0, 0.0005))
        self.mid[symbol] = mid
        spread = mid * 0.0002
        return {
            "symbol": symbol,
            "bid": round(mid - spread / 2, 6),
            "ask": round(mid + spread / 2, 6),
            "ts": time.time(),
        }

    def tick(self, symbol: str) -> None:
        data = self.quote(symbol)
        self.hub.publish("quote", data)
        self.writer.set(self.backend.key("quote", symbol), json.dumps(data, separators=(",", ":")))
        self.count += 1

    def start(self) -> QuoteGenerator:
        if self.rate > 0:
            self._greenlet = gevent.spawn(self._run)
        return self

    def stop(self) -> None:
        if self._greenlet is not None:
            self._greenlet.kill()

    def _run(self) -> None:
        period = 1.0 / self.rate
        symbols = list(self.mid)
        next_at = time.monotonic()
        for i in range(10**18):
            self.tick(symbols[i % len(symbols)])
            next_at += period
            delay = next_at - time.monotonic()
            if delay < -1.0:  # fell far behind (the process was stopped): do not burst
                next_at = time.monotonic()
                delay = 0.0
            gevent.sleep(max(0.0, delay))
