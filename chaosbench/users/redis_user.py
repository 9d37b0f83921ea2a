"""RedisUser: redis-py with one connection per user (no pool round trip, no lock, no
``can_read`` poll per command), commands reported by name (request_type "REDIS"), no hidden
retries, reconnect after loss (the next command connects again), opt-in pipelining."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import locust  # noqa: F401  (gevent monkey-patching before redis opens sockets)
import redis
from redis.backoff import NoBackoff
from redis.client import Pipeline
from redis.retry import Retry

from chaosbench.ground.endpoints import redis_endpoint, split_endpoint
from chaosbench.ground.errors import OptionError
from chaosbench.users.base import LoadUser
from chaosbench.users.options import LoadOptions
from chaosbench.users.targets import Target

T = TypeVar("T")


class UserConnectionPool(redis.ConnectionPool):
    """A "pool" of exactly one lazily opened connection, owned by one user (one greenlet).

    ``get_connection`` hands out that connection (connecting it when it is not), ``release``
    keeps it; a broken connection is disconnected by redis-py (or by :meth:`RedisUser.call`)
    and connects again on its next command.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(max_connections=1, **kwargs)
        self.own: Any = self.make_connection()

    def get_connection(self, command_name: Any = None, *keys: Any, **options: Any) -> Any:
        self.own.connect()
        return self.own

    def release(self, connection: Any) -> None:
        return None

    def disconnect(self, inuse_connections: bool = True) -> None:
        self.own.disconnect()


class RedisUser(LoadUser):
    """Abstract Redis user. ``self.call("GET", lambda r: r.get(self.key("a")))``.

    Each user holds one connection of its own (``self.redis`` uses it; a user that issues
    commands from several greenlets at once needs a client per greenlet). Several commands in
    one round trip: ``self.pipelined("GET x2", lambda p: (p.get(a), p.get(b)))``.

    Class attributes:
      redis_url: default ``--redis-url``; key_prefix: default ``--redis-prefix`` (use
        ``self.key(...)`` for every key so that the user stays inside its prefix).
      socket_timeout / connect_timeout: seconds (a paused or stalled server fails the command
        after this long instead of hanging: the socket's own timeout, no timer per command).
      client_name: CLIENT SETNAME of every connection (faults and tests filter by it).
    """

    abstract = True
    kind = "REDIS"
    redis_url: str | None = None
    key_prefix: str | None = None
    socket_timeout: float = 3.0
    connect_timeout: float = 2.0
    client_name: str = "chaosbench-load"

    def __init__(self, environment: Any) -> None:
        super().__init__(environment)
        self.pool = UserConnectionPool.from_url(
            self.url_for(self.options),
            socket_timeout=self.socket_timeout,
            socket_connect_timeout=self.connect_timeout,
            client_name=self.client_name,
            retry=Retry(NoBackoff(), 0),
            retry_on_timeout=False,
            health_check_interval=0,
            # else redis-py reads its own version from the package metadata for every
            # connection object (about 20 ms per user at spawn)
            lib_version=redis.__version__,
        )
        self.redis = redis.Redis(connection_pool=self.pool)
        # the client's own connection: commands skip the pool (see redis.Redis._execute_command)
        self.redis.connection = self.pool.own

    @classmethod
    def url_for(cls, opts: LoadOptions) -> str:
        return cls.redis_url or opts.redis_url

    @classmethod
    def targets(cls, opts: LoadOptions) -> list[Target]:
        """Where redis-py will really connect with the URL (its own parser: ``?host=`` counts);
        none for a Unix socket (this machine)."""
        url = cls.url_for(opts)
        try:
            where = split_endpoint(redis_endpoint(url))
        except ValueError as exc:
            raise OptionError(f"--redis-url: Redis address is malformed ({exc})") from None
        return [] if where is None else [Target("Redis", where[0], where[1], "--redis-url")]

    @property
    def prefix(self) -> str:
        return self.key_prefix if self.key_prefix is not None else self.options.redis_prefix

    def key(self, *parts: object) -> str:
        return self.prefix + ":".join(str(p) for p in parts)

    def call(self, name: str, op: Callable[[redis.Redis], T]) -> T | None:
        """Run ``op(self.redis)`` reported as ``name``; its result, or None when it failed."""
        result: T | None = None
        with self.measure("REDIS", name) as m:
            result = op(self.redis)
            m.response_length = _length(result)
        if not m.ok:
            self._after_failure(m.exception)
            return None
        return result

    def pipelined(self, name: str, build: Callable[[Pipeline], object]) -> list[Any] | None:
        """Queue commands with ``build(pipe)`` and send them in one round trip, reported as one
        request ``name`` (no MULTI); the list of replies, or None when it failed."""
        result: list[Any] | None = None
        with self.measure("REDIS", name) as m:
            with self.redis.pipeline(transaction=False) as pipe:
                build(pipe)
                result = pipe.execute()
            m.response_length = _length(result)
        if not m.ok:
            self._after_failure(m.exception)
            return None
        return result

    def _after_failure(self, exc: BaseException | None) -> None:
        # an answer the server gave (WRONGTYPE, ...) leaves the connection in step; anything
        # else (a timeout, a killed connection) may leave a reply unread: start afresh
        if not isinstance(exc, redis.ResponseError):
            self.pool.own.disconnect()

    def on_stop(self) -> None:
        self.pool.own.disconnect()


def _length(value: object) -> int:
    if isinstance(value, bytes | str):
        return len(value)
    if isinstance(value, list | tuple):
        return sum(_length(v) for v in value)
    return 0
