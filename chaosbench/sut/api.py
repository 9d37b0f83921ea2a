"""The HTTP API: routing and handlers.

    POST /api/orders           201 | 400 | 422 | 429 | 503   Idempotency-Key replays 1st answer
    GET  /api/orders/<id>      200 | 404 | 429 | 503   read-through cache (X-Cache: hit|miss|bypass)
    GET  /api/quotes/<symbol>  200 | 404 | 429 | 503   from Redis
    GET  /health               200 {"status":"ok"} | 503 {"status":"degraded","down":[...]}
    GET  /ws/feed              WebSocket (chaosbench.sut.http.websocket)

Errors are JSON ``{"error": <message>, "field": <field or null>}``; 503s also name the dependency.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import gevent

from chaosbench.sut.backends.breaker import Unavailable
from chaosbench.sut.backends.pg import PgPool, SchemaMissing
from chaosbench.sut.backends.redisio import RedisBackend, Writer
from chaosbench.sut.feed.hub import FeedHub
from chaosbench.sut.http.server import Request, Response, error_response, json_response
from chaosbench.sut.looplag import LoopLag
from chaosbench.sut.orders.store import OrderStore
from chaosbench.sut.orders.validate import (
    BadRequest,
    InvalidField,
    check_idempotency_key,
    parse_order,
)
from chaosbench.sut.ratelimit import Decision, RateLimiter

log = logging.getLogger("chaosbench.sut.api")
CACHE_TTL = 300


@dataclass
class Counters:
    orders_created: int = 0
    orders_replayed: int = 0
    cache_hits: int = 0
    cache_misses: int = 0
    cache_bypass: int = 0
    unavailable: int = 0


def _as_bytes(value: bytes | str) -> bytes:
    return value.encode() if isinstance(value, str) else bytes(value)


def _probe(ping: Callable[[float], None], timeout: float) -> str:
    """Run one health probe; "" when it answered, else what went wrong (never raises)."""
    try:
        ping(timeout)
    except Unavailable as exc:
        return str(exc)
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"[:200]
    return ""


def unavailable(exc: Unavailable) -> Response:
    return json_response(
        503,
        {"error": str(exc), "field": None, "dependency": exc.dependency},
        [("retry-after", "1")],
    )


class Api:
    def __init__(
        self,
        pool: PgPool,
        store: OrderStore,
        redis: RedisBackend,
        writer: Writer,
        limiter: RateLimiter,
        hub: FeedHub,
        health_timeout: float,
    ) -> None:
        self.pool = pool
        self.store = store
        self.redis = redis
        self.writer = writer
        self.limiter = limiter
        self.hub = hub
        self.health_timeout = health_timeout
        self.counters = Counters()
        self.started = time.time()
        self.looplag: LoopLag | None = None

    def __call__(self, req: Request) -> Response:
        path = req.path
        if path == "/health":
            return self.health() if req.method in ("GET", "HEAD") else self._method(req)
        route, arg, prefetch = self._route(req)
        if route == "":
            return error_response(404, f"no such path: {path}")
        if route == "method":
            return self._method(req)
        decision = self.limiter.check(req.client, prefetch)
        if not decision.allowed:
            return error_response(
                429,
                f"rate limit of {self.limiter.limit} requests/s exceeded for client {req.client!r}",
                None,
                [("retry-after", str(decision.retry_after))],
            )
        try:
            if route == "create":
                return self.create_order(req)
            if route == "order":
                return self.get_order(arg, decision)
            return self.get_quote(arg, decision)
        except Unavailable as exc:
            self.counters.unavailable += 1
            return unavailable(exc)
        except SchemaMissing:
            self.counters.unavailable += 1
            self.store.ready = False
            return unavailable(Unavailable("postgres", "orders table missing (being created)"))

    def _route(self, req: Request) -> tuple[str, str, str | None]:
        """(route, argument, Redis key the handler will read) - route "" is unknown."""
        path = req.path
        if path == "/api/orders":
            return ("create" if req.method == "POST" else "method"), "", None
        for prefix, route, key in (
            ("/api/orders/", "order", "order"),
            ("/api/quotes/", "quote", "quote"),
        ):
            if path.startswith(prefix):
                if req.method != "GET":
                    return "method", "", None
                arg = path[len(prefix) :]
                if route == "quote":
                    arg = arg.upper()
                return route, arg, self.redis.key(key, arg)
        return "", "", None

    @staticmethod
    def _method(req: Request) -> Response:
        return error_response(405, f"method {req.method} not allowed on {req.path}")

    def create_order(self, req: Request) -> Response:
        try:
            key = check_idempotency_key(req.headers.get("idempotency-key"))
            order = parse_order(req.body)
        except InvalidField as exc:
            return error_response(422, str(exc), exc.field)
        except BadRequest as exc:
            return error_response(400, str(exc), exc.field)
        if not self.store.ready:
            raise Unavailable("postgres", "orders table not created yet")
        answer = self.store.create(order, key)
        headers = [("location", f"/api/orders/{answer.order_id}")]
        if answer.replayed:
            self.counters.orders_replayed += 1
            headers.append(("idempotent-replayed", "true"))
        else:
            self.counters.orders_created += 1
            self.hub.publish(
                "order",
                {
                    "order_id": answer.order_id,
                    "client_order_id": order.client_order_id,
                    "symbol": order.symbol,
                    "side": order.side,
                    "quantity": order.quantity,
                    "price": order.price,
                    "status": "accepted",
                },
            )
        return Response(answer.status, answer.body.encode(), headers)

    def get_order(self, order_id: str, decision: Decision) -> Response:
        if not order_id or "/" in order_id or len(order_id) > 128:
            return error_response(404, "no such order", "order_id")
        key = self.redis.key("order", order_id)
        source = "miss"
        if decision.fetched:
            cached = decision.value
        else:
            try:
                cached = self.redis.call(lambda r: r.get(key))
            except Unavailable:
                cached, source = None, "bypass"
        if cached is not None:
            self.counters.cache_hits += 1
            return Response(200, _as_bytes(cached), [("x-cache", "hit")])
        doc = self.store.get(order_id)
        if doc is None:
            return error_response(404, f"no such order: {order_id}", "order_id")
        if source == "miss":
            self.counters.cache_misses += 1
            self.writer.set(key, doc, CACHE_TTL)
        else:
            self.counters.cache_bypass += 1
        return Response(200, doc.encode(), [("x-cache", source)])

    def get_quote(self, symbol: str, decision: Decision) -> Response:
        key = self.redis.key("quote", symbol)
        raw = decision.value if decision.fetched else self.redis.call(lambda r: r.get(key))
        if raw is None:
            return error_response(404, f"no quote for symbol {symbol!r}", "symbol")
        return Response(200, _as_bytes(raw))

    def health(self) -> Response:
        """Both dependencies probed concurrently, each bounded by ``health_timeout``."""
        checks = {
            "postgres": gevent.spawn(_probe, self.pool.ping, self.health_timeout),
            "redis": gevent.spawn(_probe, self.redis.ping, self.health_timeout),
        }
        gevent.joinall(list(checks.values()), timeout=self.health_timeout + 0.1)
        down: list[str] = []
        detail: dict[str, str] = {}
        for name, g in checks.items():
            result = g.value if g.ready() else "no answer in time"
            if not g.ready():
                g.kill(block=False)
            detail[name] = result or "ok"
            if result:
                down.append(name)
        if "postgres" not in down and not self.store.ready:
            down.append("postgres")
            detail["postgres"] = "orders table not created yet"
        body = {
            "status": "degraded" if down else "ok",
            "down": down,
            "checks": detail,
            "feed_seq": self.hub.seq,
            "feed": {
                "clients": len(self.hub.subscribers),
                "replay_buffer": len(self.hub.buffer),
                "dropped_slow": self.hub.dropped_slow,
            },
            "uptime_s": round(time.time() - self.started, 3),
            "loop_lag_ms": round(self.looplag.recent_max() * 1000, 1) if self.looplag else None,
            "counters": {
                **asdict(self.counters),
                "rate_limited": self.limiter.limited,
                "rate_limit_fail_open": self.limiter.fail_open,
                "postgres_failures": self.pool.breaker.failures,
                "redis_failures": self.redis.breaker.failures,
                "breaker_holds": self.pool.breaker.holds + self.redis.breaker.holds,
            },
        }
        return json_response(503 if down else 200, body)
