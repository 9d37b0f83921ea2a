"""The main job (``chaosbench run``, ``make run``): a short load-plus-chaos run against the
reference system, from any working directory.

1. checks that PostgreSQL and Redis answer (and says which one does not, where, and how to get it);
2. starts the fault proxy (``python -m chaosbench.proxy``) with the profile's routes, then the
   reference system (``python -m chaosbench.sut``), its dependencies routed through them, and
   waits until it is healthy;
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
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from chaosbench import bundled
from chaosbench.chaos.profile import load_profile
from chaosbench.chaos.profile.model import Profile
from chaosbench.ground import defaults
from chaosbench.ground.cliargs import OneLineParser
from chaosbench.ground.errors import EXIT_CANNOT_MEASURE, EXIT_MEANING, ChaosbenchError, OptionError

#: How to get a missing server, per server: a local package, or docker compose from a checkout.
GET_SERVER = {
    "PostgreSQL": "install and start one (Debian: apt-get install postgresql && service "
    "postgresql start; trust auth for postgres, a database 'test'), or run `make up` in a "
    "checkout (docker compose)",
    "Redis": "install and start one (Debian: apt-get install redis-server && service "
    "redis-server start), or run `make up` in a checkout (docker compose)",
}


@dataclass(frozen=True)
class Targets:
    """Where the reference system and Locust reach their servers: through the profile's routes."""

    sut_pg_dsn: str
    sut_redis_url: str
    host: str
    notes: tuple[str, ...]


def _addr(url: str, default_port: int) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or defaults.LOOPBACK, parts.port or default_port


def reachable(host: str, port: int, timeout: float = 2.0) -> str | None:
    """None when a TCP connection succeeds, else the reason."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return None
    except OSError as exc:
        return exc.strerror or type(exc).__name__


def check_servers(pg_dsn: str, redis_url: str) -> list[str]:
    problems = []
    for label, url, port in (
        ("PostgreSQL", pg_dsn, defaults.PG_PORT),
        ("Redis", redis_url, defaults.REDIS_PORT),
    ):
        host, p = _addr(url, port)
        why = reachable(host, p)
        if why is not None:
            problems.append(f"{label} at {host}:{p} is not reachable ({why}): {GET_SERVER[label]}")
    return problems


def _port(addr: str) -> int:
    return int(addr.rsplit(":", 1)[1])


def _same(a: tuple[str, int], b: tuple[str, int]) -> bool:
    loop = ("127.0.0.1", "localhost")
    return a[1] == b[1] and (a[0] == b[0] or (a[0] in loop and b[0] in loop))


def _via(url: str, listen: str) -> str:
    parts = urlsplit(url)
    netloc = parts.netloc.rpartition("@")
    auth = netloc[0] + "@" if netloc[1] else ""
    return urlunsplit(parts._replace(netloc=auth + listen))


def targets(profile: Profile, pg_dsn: str, redis_url: str, sut_port: int) -> Targets:
    """The route of each server the reference system uses, and the route to it for Locust."""
    notes: list[str] = []

    def route_to(host: str, port: int, what: str) -> str | None:
        for route in profile.routes.values():
            up_host, _, up_port = route.upstream.rpartition(":")
            if up_port.isdigit() and _same((up_host, int(up_port)), (host, port)):
                return str(route.listen)
        notes.append(f"no route to {what} at {host}:{port} in the profile: direct, no faults on it")
        return None

    pg_listen = route_to(*_addr(pg_dsn, defaults.PG_PORT), "PostgreSQL")
    redis_listen = route_to(*_addr(redis_url, defaults.REDIS_PORT), "Redis")
    sut_listen = route_to(defaults.LOOPBACK, sut_port, "the reference system")
    return Targets(
        sut_pg_dsn=_via(pg_dsn, pg_listen) if pg_listen else pg_dsn,
        sut_redis_url=_via(redis_url, redis_listen) if redis_listen else redis_url,
        host=f"http://{sut_listen or f'{defaults.LOOPBACK}:{sut_port}'}",
        notes=tuple(notes),
    )


def wait_port(host: str, port: int, timeout: float, proc: subprocess.Popen[bytes]) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        if reachable(host, port, 0.2) is None:
            return True
        time.sleep(0.1)
    return False


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
        default=env("CHAOSBENCH_USERS", "24"),
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


def main(argv: list[str] | None = None, prog: str = "make run") -> int:
    try:
        j = job(argv, prog)
    except ChaosbenchError as err:
        print(f"chaosbench: {err}", file=sys.stderr)
        return EXIT_CANNOT_MEASURE
    problems = check_servers(j.pg_dsn, j.redis_url)
    if problems:
        for line in problems:
            print(f"chaosbench: {line}", file=sys.stderr)
        return EXIT_CANNOT_MEASURE
    to = targets(j.profile, j.pg_dsn, j.redis_url, j.sut_port)
    ports = {"the reference system": j.sut_port, "the fault proxy's API": _port(j.proxy_api)}
    ports.update({f"route {n}": _port(r.listen) for n, r in j.profile.routes.items()})
    busy = [
        f"127.0.0.1:{p} ({what})"
        for what, p in ports.items()
        if reachable(defaults.LOOPBACK, p, 0.3) is None
    ]
    if busy:
        print(
            f"chaosbench: already in use: {', '.join(busy)}: stop what listens there "
            "(an earlier run?) or change the ports (--proxy-api, --sut-port, the profile's routes)",
            file=sys.stderr,
        )
        return EXIT_CANNOT_MEASURE
    for note in to.notes:
        print(f"chaosbench: {note}")
    return _run(j, to)


def _run(j: Job, to: Targets) -> int:
    procs: list[subprocess.Popen[bytes]] = []
    logs = j.results_dir
    logs.mkdir(parents=True, exist_ok=True)
    try:
        # 1. The fault proxy with the profile's routes, so that the reference system reaches
        #    PostgreSQL and Redis through it from its first connection on.
        proxy_argv = ["-m", "chaosbench.proxy", "--api", j.proxy_api, "--routes"]
        proxy = _start(procs, [*proxy_argv, str(j.profile_path)], logs / "proxy.log")
        if not wait_port(defaults.LOOPBACK, _port(j.proxy_api), 20.0, proxy):
            print(
                f"chaosbench: the fault proxy did not start; see {logs / 'proxy.log'}",
                file=sys.stderr,
            )
            return EXIT_CANNOT_MEASURE
        # 2. The reference system, its dependencies routed through the proxy.
        sut_env = {
            **os.environ,
            "SUT_PORT": str(j.sut_port),
            "SUT_PG_DSN": os.environ.get("SUT_PG_DSN", to.sut_pg_dsn),
            "SUT_REDIS_URL": os.environ.get("SUT_REDIS_URL", to.sut_redis_url),
        }
        print(f"chaosbench: the reference system on 127.0.0.1:{j.sut_port}, log {logs}/sut.log")
        sut = _start(procs, ["-m", "chaosbench.sut"], logs / "sut.log", sut_env)
        (logs / "sut.pid").write_text(f"{sut.pid}\n")  # process faults of the profile name it
        if not wait_healthy(j.sut_port, 30.0, sut):
            print(
                f"chaosbench: the reference system did not become healthy; see {logs / 'sut.log'}",
                file=sys.stderr,
            )
            return EXIT_CANNOT_MEASURE
        # 3. The load and the chaos; Locust's exit code is the verdict.
        cmd = [
            sys.executable, "-m", "locust", "-f", str(bundled.locustfiles_dir()), "--headless",
            "-u", str(j.users), "-r", str(max(1, j.users // 2)), "--host", to.host,
            "--chaos-profile", str(j.profile_path), "--chaos-proxy", f"http://{j.proxy_api}",
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
        for proc in reversed(procs):
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()


def _start(
    procs: list[subprocess.Popen[bytes]],
    argv: list[str],
    log: Path,
    env: dict[str, str] | None = None,
) -> subprocess.Popen[bytes]:
    with open(log, "ab") as fh:
        proc = subprocess.Popen([sys.executable, *argv], env=env, stdout=fh, stderr=fh)
    procs.append(proc)
    return proc


def wait_healthy(port: int, timeout: float, proc: subprocess.Popen[bytes]) -> bool:
    """Until /health answers 200 (both dependencies reachable through the proxy)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1.0) as resp:
                if resp.status == 200:
                    return True
        except (OSError, urllib.error.HTTPError):
            pass
        time.sleep(0.2)
    return False


if __name__ == "__main__":
    sys.exit(main())
