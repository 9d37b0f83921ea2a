"""A noise source that tests and benches share: load from elsewhere, switched on and off at random.

    with Noise(seed=3, settings=NoiseSettings(max_duration_s=120)) as noise:
        ...  # run what is measured; CPU hogs and neighbours come and go meanwhile
    noise.applied()  # what was really switched, with wall-clock times

Sources (each optional):
- ``cpu``: N busy-loop child processes (nice 0), as other jobs on a shared CI runner;
- ``redis``: a ``redis-benchmark`` neighbour (GET/SET on ``key:__rand_int__``) in a database
  number of its own (``--dbnum``), as other clients of a shared Redis;
- ``pg``: a ``pgbench`` neighbour on a database of its own (``pgbench -i -s 1``, created at
  enter, dropped at exit), application_name ``chaosbench-noise-<seed>-<pid>``.

Each source's on and off durations are exponential with the given means, drawn from a generator
seeded by (seed, source): the same seed gives the same timeline, and nothing aligns it with a
chaos schedule. Everything is bounded: the whole noise stops after ``max_duration_s``; every
child has its own time limit (busy loops and pgbench ``-T``; redis-benchmark ``-n``), dies with
its parent (PR_SET_PDEATHSIG, and the busy loops poll their parent too) and is stopped and
reaped at exit, also when the body raises. Loopback only.
"""

from __future__ import annotations

import ctypes
import math
import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from types import TracebackType
from typing import Protocol
from urllib.parse import urlsplit

import psycopg
import redis

PG_DSN = os.environ.get("CHAOSBENCH_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("CHAOSBENCH_TEST_REDIS", "redis://127.0.0.1:6379/0")
LOOPBACK = ("127.0.0.1", "localhost", "::1")
PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class SourceTiming:
    """Mean on and off durations (s) of one source; exponential, so nothing is periodic."""

    on_mean_s: float
    off_mean_s: float


@dataclass(frozen=True)
class NoiseSettings:
    max_duration_s: float = 300.0
    cpu_hogs: int = 2  # 0: no CPU source
    cpu: SourceTiming = SourceTiming(4.0, 6.0)
    redis: SourceTiming | None = SourceTiming(3.0, 6.0)
    redis_clients: int = 4
    redis_db: int = 13  # redis-benchmark's own database number (the project's users use db 0)
    redis_requests: int = 2_000_000  # -n: the bound of one burst (it is stopped at its end)
    redis_keyspace: int = 10_000  # -r: keys key:<12 digits> it reads and writes (64 bytes each)
    pg: SourceTiming | None = SourceTiming(3.0, 6.0)
    pg_clients: int = 2
    redis_url: str = REDIS_URL
    pg_dsn: str = PG_DSN
    pg_db_prefix: str = "cb_noise_"  # the pgbench neighbour's database: <prefix><seed>_<pid>_<hex>


@dataclass(frozen=True)
class Planned:
    """One planned on-interval, in seconds from the noise's start."""

    source: str
    start: float
    end: float


@dataclass(frozen=True)
class Applied:
    """One on-interval as it really was, in wall-clock Unix seconds, and the pids it ran."""

    source: str
    start: float
    end: float
    pids: tuple[int, ...]


def plan(seed: int, settings: NoiseSettings) -> list[Planned]:
    """The on/off timeline a seed gives: per source, off then on durations drawn in turn."""
    timings: dict[str, SourceTiming] = {}
    if settings.cpu_hogs > 0:
        timings["cpu"] = settings.cpu
    if settings.redis is not None:
        timings["redis"] = settings.redis
    if settings.pg is not None:
        timings["pg"] = settings.pg
    out: list[Planned] = []
    for source, timing in timings.items():
        rng = random.Random(f"{seed}:{source}")
        t = rng.expovariate(1.0 / timing.off_mean_s)
        while t < settings.max_duration_s:
            end = min(t + rng.expovariate(1.0 / timing.on_mean_s), settings.max_duration_s)
            out.append(Planned(source, round(t, 6), round(end, 6)))
            t = end + rng.expovariate(1.0 / timing.off_mean_s)
    out.sort(key=lambda p: (p.start, p.source))
    return out


def die_with_parent() -> None:
    """preexec_fn: SIGKILL this child when the thread that started it (the parent) dies."""
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)


def _spawn(args: list[str], env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        args,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, **(env or {})},
        preexec_fn=die_with_parent,
    )


def stop_children(procs: list[subprocess.Popen[bytes]]) -> None:
    """Terminate, then kill after 5 s, and reap."""
    for p in procs:
        if p.poll() is None:
            p.terminate()
    for p in procs:
        try:
            p.wait(5)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(5)


# A busy loop that stops by itself after its time limit or when its parent is gone.
HOG = (
    "import os, sys, time\n"
    "parent, end = int(sys.argv[1]), time.monotonic() + float(sys.argv[2])\n"
    "while time.monotonic() < end and os.getppid() == parent:\n"
    "    for _ in range(20000):\n"
    "        pass\n"
)


class Source(Protocol):
    name: str

    def setup(self) -> None: ...

    def start(self, duration_s: float) -> list[int]: ...

    def stop(self) -> None: ...

    def cleanup(self) -> None: ...


class ChildSource:
    """A source made of child processes: ``start`` spawns them, ``stop`` stops and reaps them."""

    name = "?"

    def __init__(self) -> None:
        self.procs: list[subprocess.Popen[bytes]] = []

    def setup(self) -> None:
        pass

    def start(self, duration_s: float) -> list[int]:
        self.procs = self.spawn(duration_s)
        return [p.pid for p in self.procs]

    def spawn(self, duration_s: float) -> list[subprocess.Popen[bytes]]:
        raise NotImplementedError

    def stop(self) -> None:
        stop_children(self.procs)
        self.procs = []

    def cleanup(self) -> None:
        self.stop()


class CpuHogs(ChildSource):
    name = "cpu"

    def __init__(self, count: int) -> None:
        super().__init__()
        self.count = count

    def spawn(self, duration_s: float) -> list[subprocess.Popen[bytes]]:
        limit = f"{duration_s + 2.0:.3f}"
        hog = [sys.executable, "-c", HOG, str(os.getpid()), limit]
        return [_spawn(hog) for _ in range(self.count)]


def _loopback(host: str | None, what: str) -> str:
    host = host or "127.0.0.1"
    if host not in LOOPBACK:
        raise ValueError(f"noise: {what} host {host!r} is not a loopback address")
    return host


class RedisNeighbour(ChildSource):
    """``redis-benchmark -t get,set -r`` in its own database number; keys ``key:<12 digits>``."""

    name = "redis"

    def __init__(self, settings: NoiseSettings) -> None:
        super().__init__()
        url = urlsplit(settings.redis_url)
        self.host = _loopback(url.hostname, "Redis")
        self.port = url.port or 6379
        self.db = settings.redis_db
        self.clients = settings.redis_clients
        self.requests = settings.redis_requests
        self.keyspace = settings.redis_keyspace

    def spawn(self, duration_s: float) -> list[subprocess.Popen[bytes]]:
        args = [
            "redis-benchmark", "-h", self.host, "-p", str(self.port), "--dbnum", str(self.db),
            "-c", str(self.clients), "-n", str(self.requests), "-t", "get,set",
            "-r", str(self.keyspace), "-d", "64", "-q",
        ]  # fmt: skip
        return [_spawn(args)]

    def cleanup(self) -> None:
        self.stop()

        r = redis.Redis(host=self.host, port=self.port, db=self.db, socket_timeout=5)
        try:
            for key in r.scan_iter("key:*", count=1000):
                r.delete(key)
        finally:
            r.close()


class PgNeighbour(ChildSource):
    """``pgbench`` (TPC-B-like) on a database of its own, created by ``pgbench -i -s 1``."""

    name = "pg"

    def __init__(self, settings: NoiseSettings, tag: str) -> None:
        super().__init__()
        info = psycopg.conninfo.conninfo_to_dict(settings.pg_dsn)
        self.host = _loopback(str(info.get("host") or "127.0.0.1"), "PostgreSQL")
        self.port = str(info.get("port") or 5432)
        self.user = str(info.get("user") or "postgres")
        self.admin_dsn = settings.pg_dsn
        self.db = f"{settings.pg_db_prefix}{tag}"
        self.application_name = f"chaosbench-noise-{tag}"
        self.clients = settings.pg_clients
        self.created = False

    def _base(self) -> list[str]:
        return ["-h", self.host, "-p", self.port, "-U", self.user]

    def setup(self) -> None:
        with psycopg.connect(self.admin_dsn, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{self.db}"')
        self.created = True
        subprocess.run(
            ["pgbench", "-i", "-s", "1", "-q", *self._base(), self.db],
            check=True,
            capture_output=True,
            timeout=120,
        )

    def spawn(self, duration_s: float) -> list[subprocess.Popen[bytes]]:
        limit = str(max(1, math.ceil(duration_s)) + 1)
        args = ["pgbench", "-n", "-c", str(self.clients), "-j", "1", "-T", limit, *self._base()]
        return [_spawn([*args, self.db], env={"PGAPPNAME": self.application_name})]

    def cleanup(self) -> None:
        self.stop()
        if self.created:
            with psycopg.connect(self.admin_dsn, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self.db}" WITH (FORCE)')
            self.created = False


class ClosedOnExit:
    """A context manager whose exit, however the body ends, is ``close()``."""

    def close(self) -> None:
        raise NotImplementedError

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


@dataclass
class _State:
    on: dict[str, tuple[float, tuple[int, ...]]] = field(default_factory=dict)
    applied: list[Applied] = field(default_factory=list)


class Noise(ClosedOnExit):
    """Context manager: for its lifetime (at most ``settings.max_duration_s``) the sources of
    ``settings`` go on and off along ``plan(seed, settings)``."""

    def __init__(self, seed: int, settings: NoiseSettings | None = None) -> None:
        self.seed = seed
        self.settings = settings or NoiseSettings()
        self.planned = plan(seed, self.settings)
        self.tag = f"{seed}_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        self.sources: dict[str, Source] = {}
        if self.settings.cpu_hogs > 0:
            self.sources["cpu"] = CpuHogs(self.settings.cpu_hogs)
        if self.settings.redis is not None:
            self.sources["redis"] = RedisNeighbour(self.settings)
        if self.settings.pg is not None:
            self.sources["pg"] = PgNeighbour(self.settings, self.tag)
        self.started: float | None = None  # wall clock
        self._state = _State()
        self.errors: list[str] = []  # a source that could not start or stop: "source: error"
        self._lock = threading.Lock()
        self._halt = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def pg_database(self) -> str | None:
        src = self.sources.get("pg")
        return src.db if isinstance(src, PgNeighbour) else None

    @property
    def pg_application_name(self) -> str | None:
        src = self.sources.get("pg")
        return src.application_name if isinstance(src, PgNeighbour) else None

    def __enter__(self) -> Noise:
        try:
            for src in self.sources.values():
                src.setup()
        except BaseException:
            self._cleanup()
            raise
        self.started = time.time()
        self._thread = threading.Thread(target=self._run, name="noise", daemon=True)
        self._thread.start()
        return self

    def close(self) -> None:
        """Stop every source and clean up; a source that failed meanwhile is raised now."""
        self._halt.set()
        if self._thread is not None:
            self._thread.join(30)
        self._cleanup()
        if self.errors:
            raise RuntimeError(f"noise: {'; '.join(self.errors)}")

    def _cleanup(self) -> None:
        errors: list[BaseException] = []
        for src in self.sources.values():
            try:
                src.cleanup()
            except Exception as exc:
                errors.append(exc)
        with self._lock:
            now = time.time()
            for name in list(self._state.on):
                self._switched_off(name, now)
        if errors:
            raise errors[0]

    def _switched_off(self, name: str, now: float) -> None:
        start, pids = self._state.on.pop(name)
        self._state.applied.append(Applied(name, start, now, pids))

    def _run(self) -> None:
        """Walk the plan: every source's starts and stops in time order, until halted."""
        t0 = time.monotonic()
        events: list[tuple[float, int, Planned]] = []
        for p in self.planned:
            events.append((p.start, 1, p))
            events.append((p.end, 0, p))
        events.sort(key=lambda e: (e[0], e[1]))
        try:
            for at, is_start, p in events:
                if self._halt.wait(max(0.0, at - (time.monotonic() - t0))):
                    return
                if not self._switch(p, bool(is_start)):
                    return
        finally:
            for name, src in self.sources.items():
                src.stop()
                with self._lock:
                    if name in self._state.on:
                        self._switched_off(name, time.time())

    def _switch(self, p: Planned, on: bool) -> bool:
        """Start or stop one source; False (and the error noted) when it fails."""
        src = self.sources[p.source]
        try:
            if on:
                pids = src.start(p.end - p.start)
                with self._lock:
                    self._state.on[p.source] = (time.time(), tuple(pids))
            else:
                src.stop()
                with self._lock:
                    if p.source in self._state.on:
                        self._switched_off(p.source, time.time())
        except Exception as exc:
            self.errors.append(f"{p.source}: {type(exc).__name__}: {exc}")
            return False
        return True

    def is_on(self, source: str) -> bool:
        with self._lock:
            return source in self._state.on

    def pids(self, source: str) -> tuple[int, ...]:
        with self._lock:
            entry = self._state.on.get(source)
        return entry[1] if entry else ()

    def applied(self) -> list[Applied]:
        """The on-intervals really applied so far (wall clock), in order of their start."""
        with self._lock:
            out = list(self._state.applied)
            now = time.time()
            out += [Applied(n, s, now, pids) for n, (s, pids) in self._state.on.items()]
        return sorted(out, key=lambda a: (a.start, a.source))

    def describe(self) -> str:
        """One line: the settings, for READMEs and bench output."""
        s = self.settings
        parts = [f"seed={self.seed}", f"max={s.max_duration_s:g}s"]
        if s.cpu_hogs:
            parts.append(f"cpu_hogs={s.cpu_hogs} on~{s.cpu.on_mean_s:g}s off~{s.cpu.off_mean_s:g}s")
        if s.redis:
            parts.append(
                f"redis-benchmark -c {s.redis_clients} db {s.redis_db} "
                f"on~{s.redis.on_mean_s:g}s off~{s.redis.off_mean_s:g}s"
            )
        if s.pg:
            parts.append(
                f"pgbench -c {s.pg_clients} on~{s.pg.on_mean_s:g}s off~{s.pg.off_mean_s:g}s"
            )
        return ", ".join(parts)
