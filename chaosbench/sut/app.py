"""Wiring: builds the SUT's parts from ``Settings`` and runs them until stopped."""

from __future__ import annotations

import logging
import signal

import gevent
import gevent.event

from chaosbench.sut.api import Api
from chaosbench.sut.backends.breaker import Breaker, Unavailable
from chaosbench.sut.backends.pg import PgPool
from chaosbench.sut.backends.redisio import RedisBackend, Writer
from chaosbench.sut.config import Settings
from chaosbench.sut.feed.hub import FeedHub, FeedMessage
from chaosbench.sut.feed.quotes import QuoteGenerator
from chaosbench.sut.http.server import HttpServer
from chaosbench.sut.http.websocket import FeedEndpoint
from chaosbench.sut.looplag import LoopLag
from chaosbench.sut.orders.store import OrderStore
from chaosbench.sut.ratelimit import RateLimiter

log = logging.getLogger("sut")


class Sut:
    def __init__(self, settings: Settings) -> None:
        self.settings = s = settings
        self.pg_breaker = Breaker("postgres", s.breaker_cooldown, s.breaker_hold_s)
        self.redis_breaker = Breaker("redis", s.breaker_cooldown, s.breaker_hold_s)
        self.pool = PgPool(
            s.pg_dsn,
            s.pg_pool_size,
            s.pg_connect_timeout,
            s.pg_statement_timeout,
            s.pg_op_timeout,
            self.pg_breaker,
            s.pg_application_name,
        )
        self.store = OrderStore(self.pool, s.pg_schema)
        self.redis = RedisBackend(
            s.redis_url, s.redis_prefix, s.redis_pool_size, s.redis_timeout, self.redis_breaker
        )
        self.writer = Writer(self.redis)
        self.feed_key = self.redis.key("feed")
        self.seq_key = self.redis.key("feed", "seq")
        self.hub = FeedHub(s.replay_size, s.ws_queue, self._mirror, self._lease)
        self.quotes = QuoteGenerator(self.hub, self.redis, self.writer, s.quote_rate)
        self.limiter = RateLimiter(self.redis, s.rate_limit)
        self.api = Api(
            self.pool,
            self.store,
            self.redis,
            self.writer,
            self.limiter,
            self.hub,
            s.health_timeout,
        )
        self.feed = FeedEndpoint(self.hub)
        self.looplag = LoopLag()
        self.api.looplag = self.looplag
        self.http = HttpServer(
            s.host, s.port, self.api, {"/ws/feed": self.feed}, s.max_body, s.idle_timeout
        )
        self.stopped = gevent.event.Event()
        self._schema_greenlet: gevent.Greenlet | None = None

    def _mirror(self, msg: FeedMessage) -> None:
        self.writer.append(self.feed_key, msg.stored(), keep=self.settings.replay_size)

    def _lease(self, leased: int) -> None:
        self.writer.set(self.seq_key, str(leased))

    def _restore_feed(self) -> None:
        """Restore the buffer and continue above the lease; take a new lease synchronously."""
        try:
            stored, leased = self.redis.call(
                lambda r: (r.lrange(self.feed_key, 0, -1), r.get(self.seq_key)),
                timeout=2.0,
                use_breaker=False,
            )
            self.hub.restore(
                [t if isinstance(t, str) else t.decode() for t in stored], int(leased or 0)
            )
        except Unavailable as exc:
            log.warning("feed: Redis unavailable at start (%s); the sequence starts at 0", exc)
            return
        lease = self.hub.next_lease()
        try:
            self.redis.call(lambda r: r.set(self.seq_key, str(lease)), use_breaker=False)
        except Unavailable:
            self.hub.leased = 0  # the first publish takes (and persists) a lease

    def _schema_loop(self) -> None:
        """Create the schema; retry until PostgreSQL answers; re-create if it disappears."""
        delay = 0.2
        while True:
            if not self.store.ready:
                try:
                    self.store.ensure_schema()
                    log.info("schema %s ready", self.settings.pg_schema)
                    delay = 0.2
                except Exception as exc:
                    log.warning("schema not ready yet: %s", exc)
                    delay = min(delay * 2, 2.0)
            gevent.sleep(delay if not self.store.ready else 0.5)

    def start(self) -> None:
        # Normally the schema exists before the port opens (so "port open" means "ready"); when
        # PostgreSQL is down, listen anyway and keep trying in the background.
        try:
            self.store.ensure_schema()
        except Exception as exc:
            log.warning("schema not ready at start (%s); serving 503 until it is", exc)
        self._restore_feed()
        self.http.start()
        self.writer.start()
        self.quotes.start()
        self.looplag.start()
        self._schema_greenlet = gevent.spawn(self._schema_loop)
        s = self.settings
        log.info(
            "listening on http://%s:%d (postgres %s schema %s, redis %s prefix %r)",
            s.host,
            self.http.port,
            _safe(s.pg_dsn),
            s.pg_schema,
            _safe(s.redis_url),
            s.redis_prefix,
        )

    def stop(self) -> None:
        self.quotes.stop()
        self.looplag.stop()
        self.http.stop(timeout=1.0)
        if self._schema_greenlet is not None:
            self._schema_greenlet.kill()
        # A clean stop hands out no more numbers: record the exact last one (no hole at restart).
        self.hub.lease = None
        self._lease(self.hub.seq)
        if not self.writer.drain(timeout=2.0):
            log.warning("feed: could not write the last feed messages to Redis before stopping")
        self.writer.stop()
        self.pool.close()
        self.redis.close()
        self.stopped.set()

    def serve_forever(self) -> None:
        self.start()
        for sig in (signal.SIGTERM, signal.SIGINT):
            gevent.signal_handler(sig, lambda: gevent.spawn(self.stop))
        self.stopped.wait()
        log.info("stopped")


def _safe(url: str) -> str:
    """A connection string without its password, for logs."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        return f"{scheme}://{creds.split(':', 1)[0]}@{host}"
    return url
