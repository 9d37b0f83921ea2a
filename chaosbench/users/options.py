"""Locust options for the load users: targets, user mix, deadlines, pacing.

Registered on ``init_command_line_parser`` so that each works as a CLI flag, an environment
variable (``LOCUST_`` + the flag in upper case, e.g. ``LOCUST_PG_DSN``), a ``locust.conf`` entry,
and a field in the web UI:

    --host            Locust's own: the HTTP API of the system under test (a worker takes the
                      master's, which Locust sets as ``environment.host``)
    --ws-url          WebSocket feed URL (default: derived from --host, path /ws/feed)
    --pg-dsn          PostgreSQL DSN of the PostgreSQL users (password never printed)
    --pg-schema       their own schema (default chaosbench_load)
    --redis-url       Redis URL of the Redis users (password never printed)
    --redis-prefix    their own key prefix (default cb:load:)
    --user-mix        weights per user class, e.g. "OrderApiUser=3,FeedUser=1"
    --deadlines       deadlines in ms, e.g. "PG=200,REDIS=50,POST /api/orders=300"
    --pacing-rate     open-model pacing: task iterations per second per user (0: each class's own)

At test start the targets of the user classes that will run are probed once; an unreachable one
stops the run with one line naming it and exit code 2.
"""

from __future__ import annotations

import math
import re
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from chaosbench.ground import defaults
from chaosbench.ground.errors import EXIT_CANNOT_MEASURE, ChaosbenchError, OptionError
from chaosbench.ground.redact import redact
from chaosbench.ground.text import short_repr
from chaosbench.users.deadlines import Deadlines, parse_deadlines

if TYPE_CHECKING:  # Locust (and its monkey-patching) is imported only when wired in
    from locust.event import Events

DEFAULT_PG_DSN = defaults.PG_DSN
DEFAULT_PG_SCHEMA = "chaosbench_load"
DEFAULT_REDIS_URL = defaults.REDIS_URL
DEFAULT_REDIS_PREFIX = "cb:load:"
DEFAULT_WS_PATH = "/ws/feed"

_ENV_ATTR = "_chaosbench_load_options"
_UNREACHABLE_ATTR = "_chaosbench_unreachable"


@dataclass(frozen=True)
class LoadOptions:
    """The load users' settings for one run, parsed and validated."""

    host: str | None = None
    ws_url: str | None = None
    pg_dsn: str = DEFAULT_PG_DSN
    pg_schema: str = DEFAULT_PG_SCHEMA
    redis_url: str = DEFAULT_REDIS_URL
    redis_prefix: str = DEFAULT_REDIS_PREFIX
    user_mix: dict[str, int] = field(default_factory=dict)
    deadlines: Deadlines = field(default_factory=Deadlines)
    pacing_rate: float = 0.0

    def feed_url(self) -> str | None:
        """The WebSocket URL: --ws-url, else --host with ws(s):// and /ws/feed."""
        if self.ws_url:
            return self.ws_url
        if not self.host:
            return None
        parts = urlsplit(self.host)
        scheme = "wss" if parts.scheme == "https" else "ws"
        return urlunsplit((scheme, parts.netloc, DEFAULT_WS_PATH, "", ""))


def mask_dsn(dsn: str) -> str:
    """``dsn`` with any password replaced by ``***`` (URL and key=value forms)."""
    return redact(dsn)


def parse_user_mix(spec: str, where: str = "--user-mix") -> dict[str, int]:
    mix: dict[str, int] = {}
    for raw in (spec or "").split(","):
        item = raw.strip()
        if not item:
            continue
        name, sep, value = item.partition("=")
        if not sep or not name.strip():
            raise OptionError(
                f"{where}: {short_repr(item)} is not UserClass=WEIGHT (in {short_repr(spec)})"
            )
        try:
            weight = int(value)
        except ValueError:
            raise OptionError(
                f"{where}: weight {short_repr(value.strip())} of {short_repr(name.strip())} "
                "is not an integer"
            ) from None
        if weight < 1:
            raise OptionError(f"{where}: weight of {short_repr(name.strip())} must be at least 1")
        mix[name.strip()] = weight
    return mix


def _opt(parsed: Any, name: str, default: Any) -> Any:
    value = getattr(parsed, name, None) if parsed is not None else None
    return default if value in (None, "") else value


def options_from_parsed(parsed: Any, host: str | None = None) -> LoadOptions:
    """Build and validate LoadOptions from Locust's parsed options (None: all defaults).
    ``host`` (the environment's, which a worker gets from the master) comes before
    ``parsed.host``."""
    rate_raw = _opt(parsed, "pacing_rate", 0.0)
    try:
        rate = float(rate_raw)
    except (TypeError, ValueError):
        raise OptionError(f"--pacing-rate: {short_repr(rate_raw)} is not a number") from None
    if not (math.isfinite(rate) and rate >= 0):
        raise OptionError(f"--pacing-rate: {rate} must be 0 (closed model) or more, and finite")
    prefix = str(_opt(parsed, "redis_prefix", DEFAULT_REDIS_PREFIX))
    schema = str(_opt(parsed, "pg_schema", DEFAULT_PG_SCHEMA))
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,62}", schema):
        raise OptionError(f"--pg-schema: {short_repr(schema)} is not a plain SQL identifier")
    return LoadOptions(
        host=host or _opt(parsed, "host", None),
        ws_url=_opt(parsed, "ws_url", None),
        pg_dsn=str(_opt(parsed, "pg_dsn", DEFAULT_PG_DSN)),
        pg_schema=schema,
        redis_url=str(_opt(parsed, "redis_url", DEFAULT_REDIS_URL)),
        redis_prefix=prefix,
        user_mix=parse_user_mix(str(_opt(parsed, "user_mix", ""))),
        deadlines=parse_deadlines(str(_opt(parsed, "deadlines", ""))),
        pacing_rate=rate,
    )


def load_options(environment: Any) -> LoadOptions:
    """The run's LoadOptions (parsed once per test start; defaults when used as a library)."""
    opts = getattr(environment, _ENV_ATTR, None)
    if opts is None:
        opts = _from_environment(environment)
        setattr(environment, _ENV_ATTR, opts)
    return opts


def _from_environment(environment: Any) -> LoadOptions:
    host = getattr(environment, "host", None)
    return options_from_parsed(
        getattr(environment, "parsed_options", None), host=str(host) if host else None
    )


def set_load_options(environment: Any, opts: LoadOptions) -> None:
    setattr(environment, _ENV_ATTR, opts)


def unreachable(environment: Any) -> str | None:
    """The message of the target found unreachable at test start, if any."""
    return getattr(environment, _UNREACHABLE_ATTR, None)


def _add_arguments(parser: Any) -> None:
    group = parser  # (argument groups lose include_in_web_ui / is_secret)
    group.add_argument(
        "--ws-url",
        env_var="LOCUST_WS_URL",
        default="",
        help="WebSocket feed URL (default: --host with ws:// and /ws/feed)",
    )
    group.add_argument(
        "--pg-dsn",
        env_var="LOCUST_PG_DSN",
        default=DEFAULT_PG_DSN,
        is_secret=True,
        help="PostgreSQL DSN for the PostgreSQL users",
    )
    group.add_argument(
        "--pg-schema",
        env_var="LOCUST_PG_SCHEMA",
        default=DEFAULT_PG_SCHEMA,
        help="schema of the PostgreSQL users' tables",
    )
    group.add_argument(
        "--redis-url",
        env_var="LOCUST_REDIS_URL",
        default=DEFAULT_REDIS_URL,
        is_secret=True,
        help="Redis URL for the Redis users",
    )
    group.add_argument(
        "--redis-prefix",
        env_var="LOCUST_REDIS_PREFIX",
        default=DEFAULT_REDIS_PREFIX,
        help="key prefix of the Redis users",
    )
    group.add_argument(
        "--user-mix",
        env_var="LOCUST_USER_MIX",
        default="",
        help='weights per user class, e.g. "OrderApiUser=3,FeedUser=1"',
    )
    group.add_argument(
        "--deadlines",
        env_var="LOCUST_DEADLINES",
        default="",
        help='deadlines in ms per kind or request name, e.g. "PG=200,POST /api/orders=300"',
    )
    group.add_argument(
        "--pacing-rate",
        env_var="LOCUST_PACING_RATE",
        type=float,
        default=0.0,
        help="open-model pacing: task iterations/s per user (0: each user class's own setting)",
    )


def _fail(environment: Any, message: str) -> None:
    """One clear line, exit code 2, and a run that stops before users flood errors."""
    print(f"chaosbench: {message}", file=sys.stderr, flush=True)
    setattr(environment, _UNREACHABLE_ATTR, message)
    environment.process_exit_code = EXIT_CANNOT_MEASURE
    runner = environment.runner
    if runner is not None:
        import gevent

        gevent.spawn_later(0, runner.quit)


def _selected_classes(environment: Any) -> list[type]:
    return list(environment.user_classes or [])


def _on_test_start(environment: Any, **_kw: Any) -> None:
    from locust.runners import MasterRunner

    from chaosbench.users.targets import check_targets

    try:
        opts = _from_environment(environment)
    except ChaosbenchError as exc:
        _fail(environment, str(exc))
        return
    set_load_options(environment, opts)
    classes = _selected_classes(environment)
    by_name: dict[str, Any] = {c.__name__: c for c in classes}
    for name, weight in opts.user_mix.items():
        if name not in by_name:
            _fail(
                environment,
                f"--user-mix: no user class {name!r} (have: {', '.join(sorted(by_name))})",
            )
            return
        by_name[name].weight = weight
    if isinstance(environment.runner, MasterRunner):
        return
    problem = check_targets(classes, opts)
    if problem:
        _fail(environment, problem)


def _on_init(environment: Any, **_kw: Any) -> None:
    """Validate the options as soon as they are parsed: a bad one ends the process (code 2)."""
    if environment.parsed_options is None:
        return
    try:
        set_load_options(environment, _from_environment(environment))
    except ChaosbenchError as exc:
        print(f"chaosbench: {exc}", file=sys.stderr, flush=True)
        sys.exit(EXIT_CANNOT_MEASURE)


def install(events: Events) -> None:
    """Register the load options on Locust's ``init_command_line_parser`` and the listeners that
    validate them (init) and probe the targets (test_start)."""
    events.init_command_line_parser.add_listener(_add_arguments)
    events.init.add_listener(_on_init)
    events.test_start.add_listener(_on_test_start)
