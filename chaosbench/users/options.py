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

Every option and target is checked before any user spawns, and before the chaos scheduler and
the recording start (``preflight``):

- at ``init`` (the first init listener: ``chaosbench.harness`` installs these options first),
  the options are parsed, every ``--user-mix`` class must exist and every target address of the
  user classes must be well-formed; a headless (or autostarted) local run also probes every
  target there, so a bad one ends the process before the chaos half starts anything — except a
  target on a listen address of the chaos profile's routes (``listening_later``), which opens
  only when the chaos half creates the routes: that one is probed at test start;
- at ``test_start`` (web UI runs, whose options may change; workers) the same check runs once
  per test start: whichever listener asks ``preflight(environment)`` first runs it, the chaos
  and results listeners ask before they start, and a refused start starts nothing. Other parts
  add their own checks of a start to it (``add_start_check``: the chaos options and the results
  options of the web UI form, whose run directory is made there) and refuse with the same line
  (``refuse_start``).

A problem is one line naming the option, exit code 2.
"""

from __future__ import annotations

import math
import re
import sys
from collections.abc import Callable
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
_PREFLIGHT_ATTR = "_chaosbench_preflight"
_LATER_ATTR = "_chaosbench_listening_later"
_START_CHECKS_ATTR = "_chaosbench_start_checks"


@dataclass(frozen=True)
class Preflight:
    """The check of one test start: ``problem`` is its one line (None: every target is fine)."""

    problem: str | None


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
    """One clear line, exit code 2, and a run that stops before users flood errors: a web UI
    run (local or master) stops its test (fix the form and start again), any other quits."""
    print(f"chaosbench: {message}", file=sys.stderr, flush=True)
    setattr(environment, _UNREACHABLE_ATTR, message)
    environment.process_exit_code = EXIT_CANNOT_MEASURE
    runner = environment.runner
    if runner is not None:
        import gevent
        from locust.runners import LocalRunner, MasterRunner

        ui_runner = isinstance(runner, LocalRunner | MasterRunner)
        web_ui = ui_runner and not _starts_at_once(environment)
        if web_ui:  # spawned now: it runs before the greenlets of the users this start spawns
            gevent.spawn(_stop_refused, runner)
        else:
            gevent.spawn_later(0, runner.quit)


def _stop_refused(runner: Any) -> None:
    """Stop a refused web UI start. A runner still 'stopped' from the session's last test
    ignores ``stop()`` until its spawning has begun (and users have spawned): marked as
    spawning, it stops now, before any user of this start runs, and fires ``test_stop``."""
    from locust.runners import STATE_SPAWNING, STATE_STOPPED

    if runner.state == STATE_STOPPED:
        runner.update_state(STATE_SPAWNING)
    runner.stop()


def _selected_classes(environment: Any) -> list[type]:
    return list(environment.user_classes or [])


def _check_mix(environment: Any, opts: LoadOptions) -> dict[str, Any]:
    """The selected user classes by name; an unknown ``--user-mix`` class is an OptionError."""
    by_name: dict[str, Any] = {c.__name__: c for c in _selected_classes(environment)}
    for name in opts.user_mix:
        if name not in by_name:
            raise OptionError(
                f"--user-mix: no user class {short_repr(name)} (have: {', '.join(sorted(by_name))})"
            )
    return by_name


def _check_addresses(environment: Any, opts: LoadOptions) -> None:
    """Every target of every selected class is a well-formed address (nothing is contacted)."""
    for cls in _selected_classes(environment):
        getter = getattr(cls, "targets", None)
        if getter is not None:
            getter(opts)


def _probes(environment: Any) -> bool:
    """Whether this process probes targets (masters run no users: their workers probe)."""
    from locust.runners import MasterRunner

    return not isinstance(environment.runner, MasterRunner)


def _check(environment: Any, targets: bool, probe: bool) -> str | None:
    """The options; with ``targets`` the user mix and the target addresses too, with ``probe``
    their reachability. The first problem as its one line, or None."""
    from chaosbench.users.targets import check_targets

    try:
        opts = _from_environment(environment)
        if targets:
            _check_mix(environment, opts)
            _check_addresses(environment, opts)
    except ChaosbenchError as exc:
        return redact(str(exc))
    set_load_options(environment, opts)
    if targets and probe:
        return check_targets(_selected_classes(environment), opts)
    return None


def add_start_check(environment: Any, check: Callable[[Any], str | None]) -> None:
    """Another part's check of each test start that ``preflight`` runs (after the load options
    and targets, in the order added): e.g. the results options a web UI form may have changed.
    Its problem (one line) refuses the start like theirs; None lets it go on."""
    checks = getattr(environment, _START_CHECKS_ATTR, None)
    if not isinstance(checks, list):
        checks = []
        setattr(environment, _START_CHECKS_ATTR, checks)
    checks.append(check)


def _start_checks(environment: Any) -> str | None:
    for check in getattr(environment, _START_CHECKS_ATTR, None) or ():
        problem = check(environment)
        if problem is not None:
            return redact(problem)
    return None


def preflight(environment: Any) -> str | None:
    """The check of this test start (run by the first listener that asks; the others get its
    result): the problem's one line, or None when every option and target is fine."""
    done = getattr(environment, _PREFLIGHT_ATTR, None)
    if isinstance(done, Preflight):
        return done.problem
    problem = _check(environment, targets=True, probe=_probes(environment))
    if problem is None:
        problem = _start_checks(environment)
    setattr(environment, _PREFLIGHT_ATTR, Preflight(problem))
    setattr(environment, _UNREACHABLE_ATTR, None)  # a web UI start after a refused one
    if problem is not None:
        _fail(environment, problem)
    return problem


def refuse_start(environment: Any, problem: str) -> None:
    """Refuse this test start with its one line (as ``preflight`` does): the listeners that ask
    ``preflight`` afterwards get this problem and start nothing."""
    problem = redact(problem)
    setattr(environment, _PREFLIGHT_ATTR, Preflight(problem))
    _fail(environment, problem)


def _on_test_start(environment: Any, **_kw: Any) -> None:
    if preflight(environment) is not None:
        return
    opts = load_options(environment)
    by_name = _check_mix(environment, opts)
    for name, weight in opts.user_mix.items():
        by_name[name].weight = weight


def _on_test_stop(environment: Any, **_kw: Any) -> None:
    """The next test start (web UI) checks again: its options or host may have changed."""
    if getattr(environment, _PREFLIGHT_ATTR, None) is not None:
        setattr(environment, _PREFLIGHT_ATTR, None)


def _starts_at_once(environment: Any) -> bool:
    """A headless or autostarted run: its options are final at init."""
    o = environment.parsed_options
    return bool(getattr(o, "headless", False) or getattr(o, "autostart", False))


def _on_init(environment: Any, **_kw: Any) -> None:
    """Check the options (and, for a run that starts at once, the targets) as soon as they are
    parsed: a problem ends the process with one line and code 2, before anything started."""
    if environment.parsed_options is None:
        return
    from locust.runners import WorkerRunner

    # a worker gets its host from the master, a web UI run its options from the form: both
    # check their targets at test start
    worker = isinstance(environment.runner, WorkerRunner)
    at_once = _starts_at_once(environment) and not worker
    problem = _check(environment, targets=at_once, probe=False)
    if problem is not None:
        print(f"chaosbench: {problem}", file=sys.stderr, flush=True)
        sys.exit(EXIT_CANNOT_MEASURE)
    if at_once and _probes(environment):
        from chaosbench.users.targets import check_targets

        # A target on a chaos profile route's listen address opens only when the chaos half
        # creates the routes, after this check: it is probed at test start (``preflight``),
        # before any user spawns and before the scheduler and the recording.
        later: frozenset[tuple[str, int]] = getattr(environment, _LATER_ATTR, frozenset())
        classes = _selected_classes(environment)
        problem = check_targets(classes, load_options(environment), skip=later)
        if problem is not None:
            print(f"chaosbench: {problem}", file=sys.stderr, flush=True)
            sys.exit(EXIT_CANNOT_MEASURE)
        if not later:
            setattr(environment, _PREFLIGHT_ATTR, Preflight(None))  # the first start is checked
    elif at_once:
        setattr(environment, _PREFLIGHT_ATTR, Preflight(None))


def listening_later(environment: Any, addresses: frozenset[tuple[str, int]]) -> None:
    """Say which (host, port) addresses open only after ``init`` (the chaos profile's routes):
    a target there is probed at test start instead of at init. Called before this module's
    init listener (``chaosbench.harness`` installs ``chaosbench.wiring.routes`` first)."""
    setattr(environment, _LATER_ATTR, addresses)


def install(events: Events) -> None:
    """Register the load options on Locust's ``init_command_line_parser`` and the listeners that
    check them (init, and each test start through ``preflight``)."""
    events.init_command_line_parser.add_listener(_add_arguments)
    events.init.add_listener(_on_init)
    events.test_start.add_listener(_on_test_start)
    events.test_stop.add_listener(_on_test_stop)
