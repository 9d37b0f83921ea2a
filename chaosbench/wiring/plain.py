"""Plain ``locust -f locustfiles/ --headless`` on defaults: the main job, inside Locust.

When a run that starts at once (``--headless`` or ``--autostart``) on the master or the local
runner is given no target of its own — no ``--host``, ``--ws-url``, ``--pg-dsn``, ``--redis-url``,
``--sut-pg-dsn`` or ``--chaos-proxy`` other than the defaults — and runs the bundled default
chaos profile, the ``init`` listener here starts what the main job (``chaosbench run``) starts:
the fault proxy with the profile's routes and the reference system behind it
(chaosbench.wiring.reference_sut, the same code). It says so in one line, writes the pid file
the profile's process faults read, waits until the reference system is healthy, then points
Locust's ``--host`` at the profile's route to it and ``--chaos-proxy`` at the proxy it started.
With no ``-u``, 24 users (the main job's). The reference system and the proxy are stopped at
the process's exit, whichever way it ends (the profile's end, ``--run-time``, SIGINT, SIGTERM,
a refused start), after the faults are reverted and the verdict is printed.

It runs first of the harness's ``init`` listeners (before the load options probe the targets):
a ``--run-time`` shorter than the profile, an unreachable PostgreSQL or Redis, or a busy port
is one line and exit code 2 before anything starts. The web UI (no ``--headless``) starts
nothing: give it ``--host`` (or use ``chaosbench run``).
"""

from __future__ import annotations

import atexit
import logging
import os
import sys
from pathlib import Path
from typing import Any

from locust.event import Events
from locust.runners import WorkerRunner

from chaosbench import bundled
from chaosbench.chaos.profile import load_profile
from chaosbench.chaos.runtime import EMBEDDED, PROCESS
from chaosbench.ground import defaults
from chaosbench.ground.errors import EXIT_CANNOT_MEASURE, ChaosbenchError
from chaosbench.wiring.chaos import check_run_time
from chaosbench.wiring.reference_sut import (
    DEFAULT_USERS,
    Plan,
    ReferenceSystem,
    problems,
    profile_pidfiles,
)

log = logging.getLogger("chaosbench.plain")

#: The options that name a target of the user's own, with the values that do not (the fault
#: proxy's own modes: a plain run starts its proxy itself, either way).
_NO_TARGET: tuple[tuple[str, str, tuple[object, ...]], ...] = (
    ("host", "--host", (None,)),
    ("ws_url", "--ws-url", ("",)),
    ("pg_dsn", "--pg-dsn", (defaults.PG_DSN,)),
    ("redis_url", "--redis-url", (defaults.REDIS_URL,)),
    ("sut_pg_dsn", "--sut-pg-dsn", (defaults.PG_DSN,)),
    ("chaos_proxy", "--chaos-proxy", (PROCESS, EMBEDDED)),
)


def own_target(opts: Any) -> str | None:
    """The first option that names the user's own system (or turns the default chaos off), or
    None when the run is on defaults: then the reference system is started."""
    for dest, flag, unset in _NO_TARGET:
        value = getattr(opts, dest, None)
        if value not in (*unset, None, ""):
            return flag
    if getattr(opts, "no_chaos", False):
        return "--no-chaos"
    profile = str(getattr(opts, "chaos_profile", "") or "")
    try:
        default = bundled.resolve_profile(profile).resolve() == bundled.default_profile().resolve()
    except (OSError, ChaosbenchError):
        default = False
    return None if default else "--chaos-profile"


def _starts_at_once(opts: Any) -> bool:
    return bool(getattr(opts, "headless", False) or getattr(opts, "autostart", False))


def _refuse(message: str) -> None:
    print(f"chaosbench: {message}", file=sys.stderr, flush=True)
    sys.exit(EXIT_CANNOT_MEASURE)


def plan_for(opts: Any) -> Plan:
    """The main job's plan on Locust's options: the profile's routes, --chaos-proxy-api, the
    reference system's default port, logs and pid files under --results-dir / the profile's."""
    path = bundled.resolve_profile(str(opts.chaos_profile)).resolve()
    profile = load_profile(str(path))
    check_run_time(profile, getattr(opts, "run_time", None))
    return Plan(
        profile_path=path,
        profile=profile,
        pg_dsn=str(opts.pg_dsn),
        redis_url=str(opts.redis_url),
        proxy_api=str(opts.chaos_proxy_api),
        sut_port=defaults.SUT_PORT,
        logs=Path(str(getattr(opts, "results_dir", None) or "runs")),
        pidfiles=profile_pidfiles(profile),
    )


def on_init(environment: Any, runner: Any = None, **_kw: Any) -> None:
    opts = environment.parsed_options
    if opts is None or not hasattr(opts, "chaos_profile") or isinstance(runner, WorkerRunner):
        return
    if not _starts_at_once(opts) or own_target(opts) is not None:
        return
    try:
        plan = plan_for(opts)
    except ChaosbenchError as err:
        _refuse(str(err))
        return
    found = problems(
        plan,
        "--chaos-proxy-api; the others: chaosbench run --sut-port, a --profile of other routes",
    )
    for line in found[:-1]:
        print(f"chaosbench: {line}", file=sys.stderr)
    if found:
        _refuse(found[-1])
    ref = ReferenceSystem(plan)
    atexit.register(ref.stop)  # every exit path: Locust ends with sys.exit, signals included
    log.info(
        "no --host: starting the reference system on 127.0.0.1:%d behind the fault proxy "
        "(API %s, --host %s), logs in %s/; give --host to load your own system",
        plan.sut_port,
        plan.proxy_api,
        ref.targets.host,
        plan.logs,
    )
    try:
        ref.start()
    except ChaosbenchError as err:
        _refuse(str(err))
    except KeyboardInterrupt:
        ref.stop()
        print("chaosbench: interrupted while starting the reference system", file=sys.stderr)
        sys.exit(130)
    opts.host = environment.host = ref.targets.host
    opts.chaos_proxy = plan.proxy_url
    if "SUT_PG_SCHEMA" in os.environ:  # the reference system's own schema, for the order check
        opts.sut_pg_schema = os.environ["SUT_PG_SCHEMA"]
    if getattr(opts, "num_users", None) is None:
        opts.num_users = DEFAULT_USERS


def install(events: Events) -> None:
    """Register the ``init`` listener (install it before every other chaosbench listener)."""
    events.init.add_listener(on_init)
