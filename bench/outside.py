"""Outside servers for A/A and known-truth runs, and one locust run against them.

``OutsideServers`` (a context manager) starts what a new user would point the harness at:
- nginx from Debian (``apt-get install -y nginx`` when it is missing and we are root) on a free
  loopback port, with its own temporary prefix and config: ``/`` a small static body,
  ``/small.json`` a small JSON body;
- a PostgreSQL database initialised by ``pgbench -i -s 1`` (created, and dropped at exit);
- plain Redis (the machine's, on its own key prefix, deleted at exit).

``run(...)`` writes a profile (``faults: []`` for A/A, or a latency toxic of a known size on the
Redis route through the fault proxy) and runs ``locust -f bench/locustfiles/outside.py`` to its
end, bounded in time. Used by bench.verdicts (which also records the fixtures) and by
tests/test_outside.py.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import redis

from bench.noise import ClosedOnExit, die_with_parent, stop_children

ROOT = Path(__file__).resolve().parent.parent
PG_DSN = os.environ.get("CHAOSBENCH_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("CHAOSBENCH_TEST_REDIS", "redis://127.0.0.1:6379/0")
NGINX = "/usr/sbin/nginx"
LOCUSTFILE = "bench/locustfiles/outside.py"

NGINX_CONF = """\
daemon off;
master_process on;
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 512; }}
http {{
    access_log off;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    server {{
        listen 127.0.0.1:{port};
        location = / {{
            default_type text/html;
            return 200 "<!doctype html><title>outside</title><p>a plain nginx</p>\\n";
        }}
        location = /small.json {{
            default_type application/json;
            return 200 '{{"ok": true, "items": [1, 2, 3]}}\\n';
        }}
    }}
}}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return True
    except OSError:
        return False


def ensure_nginx() -> str:
    """The nginx binary; installed from Debian when missing and we are root."""
    if os.path.exists(NGINX):
        return NGINX
    if os.geteuid() != 0:
        raise RuntimeError(f"{NGINX} is missing: apt-get install -y nginx")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-q", "nginx"]
    if subprocess.run(install, capture_output=True, timeout=600, env=env).returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], capture_output=True, timeout=600, env=env)
        done = subprocess.run(install, capture_output=True, text=True, timeout=600, env=env)
        if done.returncode != 0:
            raise RuntimeError(f"apt-get install nginx failed: {done.stderr.strip()[-300:]}")
    return NGINX


@dataclass(frozen=True)
class Endpoints:
    http: str  # http://127.0.0.1:<nginx port>
    pg_dsn: str  # the pgbench database
    redis_url: str  # plain Redis (direct; a run routes it through the fault proxy)
    redis_prefix: str


class OutsideServers(ClosedOnExit):
    """``db_prefix`` names the pgbench database (``<db_prefix><tag>``), ``key_prefix`` the Redis
    keys (``<key_prefix><tag>:``) in the database of ``redis_url``: each caller its own."""

    def __init__(
        self,
        tag: str | None = None,
        db_prefix: str = "cb_outside_",
        key_prefix: str = "cb:outside:",
        redis_url: str = REDIS_URL,
    ) -> None:
        self.tag = tag or f"h{os.getpid()}_{uuid.uuid4().hex[:6]}"
        self.db = f"{db_prefix}{self.tag}"
        self.prefix = f"{key_prefix}{self.tag}:"
        self.redis_url = redis_url
        self.nginx: subprocess.Popen[bytes] | None = None
        self.dir: Path | None = None
        self.created = False
        self.endpoints: Endpoints | None = None

    def __enter__(self) -> Endpoints:
        try:
            return self._start()
        except BaseException:
            self.close()
            raise

    def _start(self) -> Endpoints:
        binary = ensure_nginx()
        self.dir = Path(tempfile.mkdtemp(prefix="cb-nginx-"))
        port = free_port()
        conf = self.dir / "nginx.conf"
        conf.write_text(NGINX_CONF.format(prefix=self.dir, port=port))
        log = open(self.dir / "stderr.log", "wb")
        self.nginx = subprocess.Popen(
            [binary, "-p", str(self.dir), "-c", str(conf)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            preexec_fn=die_with_parent,
        )
        log.close()
        deadline = time.monotonic() + 10
        while not port_open(port):
            if self.nginx.poll() is not None or time.monotonic() > deadline:
                err = (self.dir / "stderr.log").read_text(errors="replace").strip()
                raise RuntimeError(f"nginx did not start on 127.0.0.1:{port}: {err[-400:]}")
            time.sleep(0.05)
        with psycopg.connect(PG_DSN, autocommit=True) as conn:
            # a bench killed before its cleanup leaves its database: a fixed name is ours
            conn.execute(f'DROP DATABASE IF EXISTS "{self.db}" WITH (FORCE)')
            conn.execute(f'CREATE DATABASE "{self.db}"')
        self.created = True
        base, _ = PG_DSN.rsplit("/", 1)
        dsn = f"{base}/{self.db}"
        subprocess.run(
            ["pgbench", "-i", "-s", "1", "-q", dsn], check=True, capture_output=True, timeout=120
        )
        self.endpoints = Endpoints(f"http://127.0.0.1:{port}", dsn, self.redis_url, self.prefix)
        return self.endpoints

    def close(self) -> None:
        if self.nginx is not None:
            stop_children([self.nginx])
            self.nginx = None
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None
        if self.created:
            with psycopg.connect(PG_DSN, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self.db}" WITH (FORCE)')
            self.created = False
        r = redis.Redis.from_url(self.redis_url)
        try:
            for key in r.scan_iter(f"{self.prefix}*", count=1000):
                r.delete(key)
        finally:
            r.close()


@dataclass(frozen=True)
class Phases:
    warmup: int = 5
    baseline: int = 20
    burst_on: int = 10
    burst_off: int = 15
    bursts: int = 2
    cooldown: int = 5

    @property
    def total_s(self) -> int:
        return (
            self.warmup
            + self.baseline
            + self.bursts * (self.burst_on + self.burst_off)
            + self.cooldown
        )


def phases_text(p: Phases) -> str:
    return (
        f"phases: {{warmup: {p.warmup}s, baseline: {p.baseline}s, burst_on: {p.burst_on}s, "
        f"burst_off: {p.burst_off}s, bursts: {p.bursts}, cooldown: {p.cooldown}s}}\n"
    )


def profile_text(
    redis_route: int,
    latency_ms: int | None,
    seed: int,
    phases: Phases,
    per_burst_ms: tuple[int, ...] = (),
) -> str:
    """A/A (``latency_ms=None``: ``faults: []``) or a latency toxic of ``latency_ms`` on the
    Redis route, every burst; with ``per_burst_ms`` instead, burst i gets ``per_burst_ms[i-1]``
    ms. The Redis route is the only one through the proxy."""
    p = phases
    if per_burst_ms:
        faults = "faults:\n" + "".join(
            f"  - {{name: redis_latency_{i}, type: latency, route: redis, latency_ms: {ms}, "
            f"bursts: [{i}]}}\n"
            for i, ms in enumerate(per_burst_ms, start=1)
        )
        what = " / ".join(f"+{ms} ms" for ms in per_burst_ms)
    elif latency_ms is None:
        faults, what = "faults: []\n", "A/A"
    else:
        faults = (
            "faults:\n"
            f"  - {{name: redis_latency, type: latency, route: redis, latency_ms: {latency_ms}}}\n"
        )
        what = f"+{latency_ms} ms"
    return (
        f"description: outside servers, {what}\n"
        f"enabled: true\nseed: {seed}\nallow: [127.0.0.1]\n"
        + phases_text(p)
        + "proxy:\n  routes:\n"
        f"    redis: {{listen: 127.0.0.1:{redis_route}, upstream: 127.0.0.1:6379}}\n" + faults
    )


def redis_db(url: str) -> int:
    """The database number of a redis:// URL (0 when it names none)."""
    path = urlsplit(url).path.strip("/")
    return int(path) if path.isdigit() else 0


def _text(out: str | bytes | None) -> str:
    return out.decode(errors="replace") if isinstance(out, bytes) else out or ""


@dataclass(frozen=True)
class RunResult:
    code: int
    run_dir: Path
    command: str
    output: str
    wall_s: float


def run(
    ends: Endpoints,
    work: Path,
    run_id: str,
    latency_ms: int | None,
    seed: int,
    phases: Phases = Phases(),
    users: int = 6,
    gate: str = "gates/default.yaml",
    per_burst_ms: tuple[int, ...] = (),
    limit_s: float | None = None,
) -> RunResult:
    """One locust run against the outside servers, to the profile's end (bounded: killed after
    ``limit_s``, by default the profile's length + 90 s)."""
    work.mkdir(parents=True, exist_ok=True)
    route = free_port()
    profile = work / f"{run_id}.yaml"
    profile.write_text(profile_text(route, latency_ms, seed, phases, per_burst_ms))
    args = [
        "-f", LOCUSTFILE, "-u", str(users), "-r", str(users),
        "--host", ends.http, "--pg-dsn", ends.pg_dsn, "--pg-schema", f"cb_outside_{run_id}"[:60],
        "--redis-url", f"redis://127.0.0.1:{route}/{redis_db(ends.redis_url)}",
        "--redis-prefix", ends.redis_prefix,
    ]  # fmt: skip
    limit = phases.total_s + 90 if limit_s is None else limit_s
    return run_locust(args, profile, work, run_id, limit, gate)


def run_locust(
    args: list[str], profile: Path, work: Path, run_id: str, limit: float, gate: str
) -> RunResult:
    """``locust --headless`` with ``args`` (locustfile, users, targets), the chaos profile and the
    gate, its run directory in ``work/runs/<run_id>``, from the repository root; killed after
    ``limit`` s."""
    args = [
        sys.executable, "-m", "locust", "--headless", "--only-summary", *args,
        "--chaos-profile", str(profile), "--chaos-proxy-api", f"127.0.0.1:{free_port()}",
        "--gate", gate, "--results-dir", str(work / "runs"), "--run-id", run_id,
    ]  # fmt: skip
    t0 = time.monotonic()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    try:
        out = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=limit, env=env)
        code, output = out.returncode, out.stdout + out.stderr
    except subprocess.TimeoutExpired as exc:  # killed by subprocess.run
        code = -1
        output = f"killed after {limit:g} s\n{_text(exc.stdout)}{_text(exc.stderr)}"
    command = " ".join(a if " " not in a else repr(a) for a in args)
    return RunResult(
        code,
        work / "runs" / run_id,
        command.replace(sys.executable, "python"),
        output,
        time.monotonic() - t0,
    )
