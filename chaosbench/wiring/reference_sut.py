"""The reference system behind the fault proxy, as child processes: what both the main job
(``chaosbench run``, chaosbench/cli/mainjob.py) and a plain ``locust -f locustfiles/ --headless``
(chaosbench/wiring/plain.py) start before the load.

1. ``problems``: PostgreSQL and Redis answer (else which one, where, and how to get it), and the
   ports the proxy's API, the reference system and the profile's routes need are free;
2. ``ReferenceSystem.start``: the fault proxy (``python -m chaosbench.proxy``) with the
   profile's routes, then the reference system (``python -m chaosbench.sut``) with PostgreSQL
   and Redis reached through those routes; its pid is written to the pid files the profile's
   process faults name; returns when ``/health`` answers 200;
3. ``ReferenceSystem.stop``: both stopped (idempotent), the pid files removed.

The children get SIGTERM when the process that started them dies (Linux), so a killed parent
leaves no reference system listening on the default ports. Nothing here blocks a gevent loop:
in a Locust process ``time.sleep``, sockets and ``subprocess`` are gevent's.
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
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from chaosbench.chaos.profile.model import Profile
from chaosbench.ground import defaults
from chaosbench.ground.errors import ChaosbenchError

#: Locust users of the reference system when nobody says (the main job's --users default).
DEFAULT_USERS = 24

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


def port_of(addr: str) -> int:
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


def profile_pidfiles(profile: Profile) -> tuple[Path, ...]:
    """The pid files the profile's process faults read (``pidfile:``), in profile order."""
    seen: list[Path] = []
    for spec in profile.faults:
        value = getattr(spec.settings, "pidfile", None)
        if value and Path(value) not in seen:
            seen.append(Path(value))
    return tuple(seen)


@dataclass(frozen=True)
class Plan:
    """What to start: the profile (its routes), the servers, the ports, where logs go."""

    profile_path: Path
    profile: Profile
    pg_dsn: str
    redis_url: str
    proxy_api: str  # host:port of the fault proxy's API
    sut_port: int
    logs: Path  # proxy.log and sut.log go here
    pidfiles: tuple[Path, ...] = field(default=())  # the reference system's pid is written here

    @property
    def proxy_url(self) -> str:
        return f"http://{self.proxy_api}"

    def ports(self) -> dict[str, int]:
        """Every port the run listens on, by what listens there."""
        ports = {
            "the reference system": self.sut_port,
            "the fault proxy's API": port_of(self.proxy_api),
        }
        ports.update({f"route {n}": port_of(r.listen) for n, r in self.profile.routes.items()})
        return ports


def problems(plan: Plan, change: str) -> list[str]:
    """Why the plan cannot start, one line each (``change`` says how to change the ports)."""
    found = check_servers(plan.pg_dsn, plan.redis_url)
    if found:
        return found
    busy = [
        f"127.0.0.1:{p} ({what})"
        for what, p in plan.ports().items()
        if reachable(defaults.LOOPBACK, p, 0.3) is None
    ]
    if busy:
        return [
            f"already in use: {', '.join(busy)}: stop what listens there (an earlier run?) or "
            f"change the ports ({change})"
        ]
    return []


def wait_port(host: str, port: int, timeout: float, proc: subprocess.Popen[bytes]) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        if reachable(host, port, 0.2) is None:
            return True
        time.sleep(0.1)
    return False


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


def _die_with_parent() -> None:  # pragma: no cover - runs in the child between fork and exec
    """The child gets SIGTERM when its parent dies (Linux prctl PR_SET_PDEATHSIG)."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)
    except (OSError, AttributeError):
        pass


class ReferenceSystem:
    """The fault proxy and the reference system of one run, started and stopped together."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan
        self.targets = targets(plan.profile, plan.pg_dsn, plan.redis_url, plan.sut_port)
        self._procs: list[subprocess.Popen[bytes]] = []
        self._pid: int | None = None

    @property
    def pid(self) -> int | None:
        """The reference system's pid once started."""
        return self._pid

    def start(self) -> None:
        """Start both and wait until the reference system is healthy; ChaosbenchError (one line)
        when either does not come up (what started is stopped again)."""
        plan, logs = self.plan, self.plan.logs
        logs.mkdir(parents=True, exist_ok=True)
        try:
            # 1. The fault proxy with the profile's routes, so that the reference system reaches
            #    PostgreSQL and Redis through it from its first connection on.
            argv = ["-m", "chaosbench.proxy", "--api", plan.proxy_api, "--routes"]
            proxy = self._spawn([*argv, str(plan.profile_path)], logs / "proxy.log")
            if not wait_port(defaults.LOOPBACK, port_of(plan.proxy_api), 20.0, proxy):
                raise ChaosbenchError(f"the fault proxy did not start; see {logs / 'proxy.log'}")
            # 2. The reference system, its dependencies routed through the proxy.
            env = {
                **os.environ,
                "SUT_PORT": str(plan.sut_port),
                "SUT_PG_DSN": os.environ.get("SUT_PG_DSN", self.targets.sut_pg_dsn),
                "SUT_REDIS_URL": os.environ.get("SUT_REDIS_URL", self.targets.sut_redis_url),
            }
            sut = self._spawn(["-m", "chaosbench.sut"], logs / "sut.log", env)
            self._pid = sut.pid
            for pidfile in plan.pidfiles:  # the process faults of the profile name it
                pidfile.parent.mkdir(parents=True, exist_ok=True)
                pidfile.write_text(f"{sut.pid}\n")
            if not wait_healthy(plan.sut_port, 30.0, sut):
                raise ChaosbenchError(
                    f"the reference system did not become healthy; see {logs / 'sut.log'}"
                )
        except BaseException:
            self.stop()
            raise

    def _spawn(
        self, argv: list[str], log: Path, env: dict[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        with open(log, "ab") as fh:
            proc = subprocess.Popen(
                [sys.executable, *argv],
                env=env,
                stdout=fh,
                stderr=fh,
                stdin=subprocess.DEVNULL,
                preexec_fn=_die_with_parent if sys.platform == "linux" else None,
            )
        self._procs.append(proc)
        return proc

    def stop(self) -> None:
        """Stop the reference system, then the proxy (each SIGTERM, SIGKILL after 10 s), and
        remove the pid files that still name it. Idempotent."""
        while self._procs:
            proc = self._procs.pop()
            if proc.poll() is None:
                proc.send_signal(signal.SIGCONT)  # a process_stop fault may have frozen it
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait(10)
        for pidfile in self.plan.pidfiles:
            try:
                if self._pid is not None and pidfile.read_text().split() == [str(self._pid)]:
                    pidfile.unlink()
            except OSError:
                pass
