"""RedisUser: redis-py with a connection pool shared by the users of a class (gevent-safe:
the pool's locks and sockets are gevent-patched), commands reported by name (request_type
"REDIS"), no hidden retries, reconnect after loss (the pool replaces broken connections)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar, TypeVar
from urllib.parse import urlsplit

import gevent.lock
import locust  # noqa: F401  (gevent monkey-patching before redis opens sockets)
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry

from chaosbench.users.base import LoadUser
from chaosbench.users.options import LoadOptions, mask_dsn
from chaosbench.users.targets import Target, url_target

T = TypeVar("T")


class RedisUser(LoadUser):
    """Abstract Redis user. ``self.call("GET", lambda r: r.get(self.key("a")))``.

    Class attributes:
      redis_url: default ``--redis-url``; key_prefix: default ``--redis-prefix`` (use
        ``self.key(...)`` for every key so that the user stays inside its prefix).
      socket_timeout / connect_timeout: seconds (a paused or stalled server fails the command
        after this long instead of hanging); max_connections: pool size per class and URL.
      client_name: CLIENT SETNAME of every connection (faults and tests filter by it).
    """

    abstract = True
    kind = "REDIS"
    redis_url: str | None = None
    key_prefix: str | None = None
    socket_timeout: float = 3.0
    connect_timeout: float = 2.0
    max_connections: int = 200
    client_name: str = "chaosbench-load"

    _pools: ClassVar[dict[tuple[str, str, str], redis.BlockingConnectionPool]] = {}
    _pools_lock: ClassVar[gevent.lock.Semaphore] = gevent.lock.Semaphore()

    def __init__(self, environment: Any) -> None:
        super().__init__(environment)
        self.redis = redis.Redis(connection_pool=self._pool())

    @classmethod
    def url_for(cls, opts: LoadOptions) -> str:
        return cls.redis_url or opts.redis_url

    @classmethod
    def targets(cls, opts: LoadOptions) -> list[Target]:
        url = cls.url_for(opts)
        if urlsplit(url).scheme == "unix":
            return []
        return [url_target("Redis", mask_dsn(url), "--redis-url", 6379)]

    @property
    def prefix(self) -> str:
        return self.key_prefix if self.key_prefix is not None else self.options.redis_prefix

    def key(self, *parts: object) -> str:
        return self.prefix + ":".join(str(p) for p in parts)

    def _pool(self) -> redis.BlockingConnectionPool:
        url = self.url_for(self.options)
        key = (type(self).__qualname__, url, self.client_name)
        with self._pools_lock:
            pool = self._pools.get(key)
            if pool is None:
                pool = redis.BlockingConnectionPool.from_url(
                    url,
                    max_connections=self.max_connections,
                    timeout=self.socket_timeout,
                    socket_timeout=self.socket_timeout,
                    socket_connect_timeout=self.connect_timeout,
                    client_name=self.client_name,
                    retry=Retry(NoBackoff(), 0),
                    retry_on_timeout=False,
                    health_check_interval=0,
                )
                self._pools[key] = pool
        return pool

    def call(self, name: str, op: Callable[[redis.Redis], T]) -> T | None:
        """Run ``op(self.redis)`` reported as ``name``; its result, or None when it failed."""
        result: T | None = None
        with self.measure(
            "REDIS", name, timeout=self.socket_timeout + self.connect_timeout + 1
        ) as m:
            result = op(self.redis)
            m.response_length = _length(result)
        return result if m.ok else None


def _length(value: object) -> int:
    if isinstance(value, bytes | str):
        return len(value)
    if isinstance(value, list | tuple):
        return sum(_length(v) for v in value)
    return 0
