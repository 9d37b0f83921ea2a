"""The main job (``chaosbench run``, ``make run``): a short load-plus-chaos run against the
reference system, from any working directory.

1. checks that PostgreSQL and Redis answer (and says which one does not, where, and how to get it);
2. starts the fault proxy (``python -m chaosbench.proxy``) with the profile's routes, then the
   reference system (``python -m chaosbench.sut``), its dependencies routed through them, and
   waits until it is healthy (chaosbench.wiring.reference_sut, which a plain ``locust -f
   locustfiles/ --headless`` on defaults uses too: chaosbench.wiring.plain);
3. runs ``locust -f <the bundled locustfiles> --headless`` with the profile (default: the bundled
   ``default``) and gate (default: the bundled ``default``), which walks warmup, baseline, bursts
   and recoveries, then prints the verdict and the report's path; run directories and the logs
   of the proxy and the reference system go under ``--results-dir`` (default ``./runs``);
4. stops the reference system and exits with Locust's exit code (the verdict: 0 pass, 1 gate
   failed, 2 could not run or measure).

Ports: the proxy's API is ``--proxy-api``, the reference system's is ``--sut-port``; the ports the
proxy listens on are the profile's routes (``proxy.routes``): the route whose upstream is
PostgreSQL (``--pg-dsn``) is the reference system's PostgreSQL, the one to Redis its Redis, the
one to ``127.0.0.1:<--sut-port>`` Locust's ``--host``. To run on other ports, give a profile with
other routes (``--profile my.yaml``). Every flag has an environment variable.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from chaosbench import bundled
from chaosbench.chaos.profile import load_profile
from chaosbench.chaos.profile.model import Profile
from chaosbench.ground import defaults
from chaosbench.ground.cliargs import OneLineParser
from chaosbench.ground.errors import EXIT_CANNOT_MEASURE, EXIT_MEANING, ChaosbenchError, OptionError
from chaosbench.wiring.reference_sut import (
    DEFAULT_USERS,
    Plan,
    ReferenceSystem,
    Targets,
    problems,
    profile_pidfiles,
)


def parser(prog: str = "make run") -> OneLineParser:
    env = os.environ.get
    p = OneLineParser(
        prog=prog,
        description="The main job: the reference system behind the fault proxy, Locust's load "
        "and the profile's faults, then the gate's verdict and a report.",
        epilog="Ports: the fault proxy listens on the profile's routes; the route to PostgreSQL "
        "(--pg-dsn) is the reference system's PostgreSQL, the route to Redis its Redis, the route "
        "to 127.0.0.1:<--sut-port> Locust's --host. Other ports: a profile with other routes. "
        "Exit codes: 0 the gate passed, 1 it failed, 2 could not run or measure.",
    )
    p.add_argument(
        "--pg-dsn",
        default=env("CHAOSBENCH_PG_DSN", defaults.PG_DSN),
        help="PostgreSQL (env CHAOSBENCH_PG_DSN; default %(default)s)",
    )
    p.add_argument(
        "--redis-url",
        default=env("CHAOSBENCH_REDIS_URL", defaults.REDIS_URL),
        help="Redis (env CHAOSBENCH_REDIS_URL; default %(default)s)",
    )
    p.add_argument(
        "--proxy-api",
        default=env("CHAOSBENCH_PROXY_API", defaults.PROXY_API),
        help="host:port of the fault proxy's API (env CHAOSBENCH_PROXY_API; default %(default)s)",
    )
    p.add_argument(
        "--sut-port",
        default=env("CHAOSBENCH_SUT_PORT", str(defaults.SUT_PORT)),
        help="port of the reference system (env CHAOSBENCH_SUT_PORT; default "
        "%(default)s); a route of the profile leads to it",
    )
    p.add_argument(
        "--profile",
        default=env("CHAOSBENCH_PROFILE", bundled.DEFAULT_PROFILE),
        help="chaos profile: a path or a bundled profile's name (env "
        f"CHAOSBENCH_PROFILE; default %(default)s; bundled: "
        f"{', '.join(bundled.profile_names())})",
    )
    p.add_argument(
        "--gate",
        default=env("CHAOSBENCH_GATE", bundled.DEFAULT_GATE),
        help="gate: a path or a bundled gate's name (env CHAOSBENCH_GATE; default "
        f"%(default)s; bundled: {', '.join(bundled.gate_names())})",
    )
    p.add_argument(
        "--users",
        default=env("CHAOSBENCH_USERS", str(DEFAULT_USERS)),
        help="Locust users (env CHAOSBENCH_USERS; default %(default)s)",
    )
    p.add_argument(
        "--results-dir",
        default=env("CHAOSBENCH_RESULTS_DIR", "runs"),
        help="run directories and logs (env CHAOSBENCH_RESULTS_DIR; default "
        "%(default)s, in the working directory)",
    )
    p.add_argument("extra", nargs="*", metavar="-- LOCUST_ARGS", help="more arguments for locust")
    return p  # fmt: skip


def _int(value: str, flag: str, low: int, high: int) -> int:
    try:
        n = int(value)
    except ValueError:
        raise OptionError(f"{flag}: {value!r} is not a whole number") from None
    if not low <= n <= high:
        raise OptionError(f"{flag}: {n} is not between {low} and {high}")
    return n


def _api(value: str) -> str:
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise OptionError(f"--proxy-api: {value!r} is not host:port")
    return value


@dataclass(frozen=True)
class Job:
    pg_dsn: str
    redis_url: str
    proxy_api: str
    sut_port: int
    profile_path: Path
    profile: Profile
    gate_path: Path
    users: int
    results_dir: Path
    extra: tuple[str, ...]


def job(argv: list[str] | None, prog: str) -> Job:
    args = parser(prog).parse_args(argv)
    profile = load_profile(args.profile)  # validated before anything starts
    profile_path = bundled.resolve_profile(args.profile).resolve()
    gate_path = bundled.resolve_gate(args.gate).resolve()
    if not gate_path.is_file():
        raise OptionError(f"--gate {args.gate}: no such file, nor a bundled gate "
                          f"({', '.join(bundled.gate_names())})")  # fmt: skip
    return Job(
        pg_dsn=args.pg_dsn,
        redis_url=args.redis_url,
        proxy_api=_api(args.proxy_api),
        sut_port=_int(args.sut_port, "--sut-port", 1, 65535),
        profile_path=profile_path,
        profile=profile,
        gate_path=gate_path,
        users=_int(args.users, "--users", 1, 10_000),
        results_dir=Path(args.results_dir),
        extra=tuple(a for a in args.extra if a != "--"),
    )


def plan(j: Job) -> Plan:
    """What the main job starts: the proxy and the reference system, logs in --results-dir."""
    return Plan(
        profile_path=j.profile_path,
        profile=j.profile,
        pg_dsn=j.pg_dsn,
        redis_url=j.redis_url,
        proxy_api=j.proxy_api,
        sut_port=j.sut_port,
        logs=j.results_dir,
        pidfiles=tuple(dict.fromkeys((j.results_dir / "sut.pid", *profile_pidfiles(j.profile)))),
    )


def main(argv: list[str] | None = None, prog: str = "make run") -> int:
    try:
        j = job(argv, prog)
    except ChaosbenchError as err:
        print(f"chaosbench: {err}", file=sys.stderr)
        return EXIT_CANNOT_MEASURE
    p = plan(j)
    found = problems(p, "--proxy-api, --sut-port, the profile's routes")
    if found:
        for line in found:
            print(f"chaosbench: {line}", file=sys.stderr)
        return EXIT_CANNOT_MEASURE
    ref = ReferenceSystem(p)
    for note in ref.targets.notes:
        print(f"chaosbench: {note}")
    return _run(j, ref)


def _run(j: Job, ref: ReferenceSystem) -> int:
    to: Targets = ref.targets
    try:
        log = j.results_dir / "sut.log"
        print(f"chaosbench: the reference system on 127.0.0.1:{j.sut_port}, log {log}")
        try:
            ref.start()
        except ChaosbenchError as err:
            print(f"chaosbench: {err}", file=sys.stderr)
            return EXIT_CANNOT_MEASURE
        # The load and the chaos; Locust's exit code is the verdict.
        cmd = [
            sys.executable, "-m", "locust", "-f", str(bundled.locustfiles_dir()), "--headless",
            "-u", str(j.users), "-r", str(max(1, j.users // 2)), "--host", to.host,
            "--chaos-profile", str(j.profile_path), "--chaos-proxy", ref.plan.proxy_url,
            "--gate", str(j.gate_path), "--results-dir", str(j.results_dir), "--only-summary",
            "--pg-dsn", j.pg_dsn, "--redis-url", j.redis_url, "--sut-pg-dsn", j.pg_dsn,
            *(["--sut-pg-schema", os.environ["SUT_PG_SCHEMA"]]
              if "SUT_PG_SCHEMA" in os.environ else []),
            *j.extra,
        ]  # fmt: skip
        print("chaosbench: " + " ".join(cmd[2:]), flush=True)
        code = subprocess.call(cmd)
        if code not in EXIT_MEANING:  # Locust's last line already says a verdict's exit code
            print(f"chaosbench: exit code {code} (interrupted)")
        return code
    except KeyboardInterrupt:
        return 130
    finally:
        ref.stop()


if __name__ == "__main__":
    sys.exit(main())
