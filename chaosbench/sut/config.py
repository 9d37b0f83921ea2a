"""Settings of the reference system: command-line flags, each with an environment variable.

A flag wins over its environment variable, which wins over the default. Bad values raise
``OptionError`` with a one-line message naming the flag (``python -m chaosbench.sut`` prints it and
exits 2).
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import NoReturn

from chaosbench.sut.errors import OptionError


@dataclass(frozen=True)
class Settings:
    host: str = "127.0.0.1"
    port: int = 8000
    pg_dsn: str = "postgresql://postgres@127.0.0.1:5432/test"
    pg_schema: str = "sut"
    redis_url: str = "redis://127.0.0.1:6379/0"
    redis_prefix: str = "sut:"
    quote_rate: float = 20.0
    replay_size: int = 10000
    rate_limit: int = 500
    pg_pool_size: int = 16
    pg_application_name: str = "chaosbench-sut"
    redis_pool_size: int = 32
    pg_connect_timeout: float = 2.0
    pg_statement_timeout: float = 2.0
    pg_op_timeout: float = 3.0
    redis_timeout: float = 0.5
    health_timeout: float = 0.6
    breaker_cooldown: float = 0.5
    breaker_hold_s: float = 0.0
    ws_queue: int = 2000
    max_body: int = 65536
    idle_timeout: float = 60.0


@dataclass(frozen=True)
class _Opt:
    name: str
    kind: type
    help: str
    minimum: float | None = None

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    @property
    def env(self) -> str:
        return "SUT_" + self.name.upper()


_OPTS = [
    _Opt("host", str, "address to listen on"),
    _Opt("port", int, "port to listen on (0: any free port)", 0),
    _Opt("pg_dsn", str, "PostgreSQL connection string"),
    _Opt("pg_schema", str, "PostgreSQL schema holding the orders table"),
    _Opt("redis_url", str, "Redis URL"),
    _Opt("redis_prefix", str, "prefix of every Redis key"),
    _Opt("quote_rate", float, "quotes per second on the feed (0: none)", 0),
    _Opt("replay_size", int, "messages kept in the feed's replay buffer", 1),
    _Opt("rate_limit", int, "requests per second per client (0: no limit)", 0),
    _Opt("pg_pool_size", int, "most PostgreSQL connections", 1),
    _Opt("pg_application_name", str, "application_name of its PostgreSQL connections"),
    _Opt("redis_pool_size", int, "most Redis connections", 1),
    _Opt("pg_connect_timeout", float, "PostgreSQL connect timeout, seconds", 0.05),
    _Opt("pg_statement_timeout", float, "PostgreSQL statement_timeout, seconds", 0.05),
    _Opt("pg_op_timeout", float, "client-side bound on one PostgreSQL operation, seconds", 0.05),
    _Opt("redis_timeout", float, "Redis connect and socket timeout, seconds", 0.01),
    _Opt("health_timeout", float, "bound on each /health dependency check, seconds", 0.05),
    _Opt("breaker_cooldown", float, "after a dependency failure, fail fast for this long", 0),
    _Opt(
        "breaker_hold_s",
        float,
        "once a failing dependency answers again, keep failing fast this long (0: off)",
        0,
    ),
    _Opt("ws_queue", int, "messages a WebSocket client may fall behind before it is dropped", 1),
    _Opt("max_body", int, "largest request body, bytes", 1),
    _Opt("idle_timeout", float, "close keep-alive connections idle this long, seconds", 0.1),
]

_DEFAULTS = Settings()
_SCHEMA_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789_")


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise OptionError(f"python -m chaosbench.sut: {message}")


def _convert(opt: _Opt, raw: str, source: str) -> object:
    if opt.kind is str:
        return raw
    try:
        value = float(raw) if opt.kind is float else int(raw)
    except ValueError:
        raise OptionError(f"{source}: expected {opt.kind.__name__}, got {raw!r}") from None
    if opt.minimum is not None and value < opt.minimum:
        raise OptionError(f"{source}: must be at least {opt.minimum}, got {raw!r}")
    return value


def parse_settings(argv: Sequence[str], env: Mapping[str, str] | None = None) -> Settings:
    """Settings from ``argv`` (without the program name) and ``env`` (default: os.environ)."""
    env = os.environ if env is None else env
    parser = _Parser(
        prog="python -m chaosbench.sut", description="chaosbench's reference order gateway"
    )
    for opt in _OPTS:
        parser.add_argument(
            opt.flag,
            dest=opt.name,
            metavar=opt.kind.__name__.upper(),
            help=f"{opt.help} (default {getattr(_DEFAULTS, opt.name)!r}, env {opt.env})",
        )
    ns = parser.parse_args(list(argv))
    values: dict[str, object] = {}
    for opt in _OPTS:
        raw = getattr(ns, opt.name)
        if raw is not None:
            values[opt.name] = _convert(opt, raw, opt.flag)
        elif env.get(opt.env, "") != "":
            values[opt.name] = _convert(opt, env[opt.env], opt.env)
    settings = Settings(**values)  # type: ignore[arg-type]
    if (
        not settings.pg_schema
        or not set(settings.pg_schema) <= _SCHEMA_CHARS
        or settings.pg_schema[0].isdigit()
    ):
        raise OptionError(
            f"--pg-schema: {settings.pg_schema!r} is not a lower-case identifier ([a-z_][a-z0-9_]*)"
        )
    if (
        not settings.pg_dsn.startswith(("postgresql://", "postgres://"))
        and "=" not in settings.pg_dsn
    ):
        raise OptionError(f"--pg-dsn: {settings.pg_dsn!r} is not a PostgreSQL connection string")
    if not settings.redis_url.startswith(("redis://", "unix://")):
        raise OptionError(
            f"--redis-url: {settings.redis_url!r} must start with redis:// or unix://"
        )
    return settings


assert {f.name for f in fields(Settings)} == {o.name for o in _OPTS}
