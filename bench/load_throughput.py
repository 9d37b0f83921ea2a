"""Throughput of chaosbench's users against their client library's ceiling, in one run.

For each kind, on servers nobody here wrote (bench.outside: nginx, a ``pgbench -i -s 1``
database, plain Redis in database 5 under the prefix ``bench_users:``), closed-loop users with no
think time doing the one operation the native tool does, at the same concurrency:

- REDIS (GET of one 64-byte key): the chaosbench ``RedisUser`` in a ``locust`` process with the
  harness on (recording, run directory) vs a bare redis-py loop under gevent (one
  ``redis.Redis`` per greenlet, no Locust; also with ``single_connection_client=True``, redis-py's
  own way around its pool) and vs a bare Locust ``User`` calling redis-py (both ways: what Locust
  itself costs per request);
  also printed against ``redis-benchmark GET``.
- PG (pgbench's ``SELECT abalance FROM pgbench_accounts WHERE aid = :aid``): ``PostgresUser``
  + harness vs bare psycopg under gevent (one connection and cursor per greenlet) and vs a bare
  Locust ``User`` calling psycopg; also against ``pgbench -S -j 1`` (one thread, like one
  Locust process).
- HTTP (``GET /small.json`` on nginx): ``ApiUser`` + harness vs a bare ``FastHttpUser`` (and vs
  the same ``FastHttpUser`` with the harness, which tells the ApiUser's own cost from the
  harness's); also against ``wrk -t 1``.

The variants of a kind run one after another, interleaved A B C, C B A, ... (``--pairs``
rounds) so that drift on a shared machine hits all of them; the ratio is the median over the
rounds of A / B within a round. Only the measured operation counts (a user's ``connect``
requests are not load), and a Locust run counts from 3 s after its start (the spawn and the
harness's start are not the steady rate; the bare loops connect before their clock starts).
Prints the load average and the exact commands.

    python -m bench.load_throughput [--duration 10] [--pairs 3] [--kinds redis,pg,http]
                                    [--redis-users 16] [--pg-users 16] [--http-users 32]
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import redis

from bench._figures import (
    STEADY_LISTENER,
    Figure,
    emit,
    load_average,
    locust_steady_rate,
    run_bench,
)
from bench.outside import Endpoints, OutsideServers

ROOT = Path(__file__).resolve().parent.parent
REDIS_URL = "redis://127.0.0.1:6379/5"
PREFIX = "bench_users:"
KEY = PREFIX + "k"
ACCOUNTS = 100_000  # pgbench -i -s 1
PG_QUERY = "SELECT abalance FROM pgbench_accounts WHERE aid = %s"
WARMUP_S = 3.0  # of each Locust run, not counted (spawn, the harness's start)

LOCUSTFILE = """
import os, random, time
import psycopg, redis
from locust import User, task
from locust.contrib.fasthttp import FastHttpUser

if os.environ["BENCH_HARNESS"] == "on":
    import chaosbench.harness  # noqa: F401
from chaosbench.users import ApiUser, PostgresUser, RedisUser

KEY = {key!r}
REDIS_URL = {redis_url!r}
QUERY = {query!r}
ACCOUNTS = {accounts}


class RedisBench(RedisUser):
    think_time = (0.0, 0.0)
    client_name = "bench_users"

    @task
    def get(self):
        self.call("GET", lambda r: r.get(KEY))


class BareRedis(User):
    single = False

    def on_start(self):
        self.r = redis.Redis.from_url(REDIS_URL, single_connection_client=self.single)

    @task
    def get(self):
        start, t0, exc, n = time.time(), time.perf_counter(), None, 0
        try:
            n = len(self.r.get(KEY) or b"")
        except Exception as e:
            exc = e
        self.environment.events.request.fire(
            request_type="REDIS", name="GET", start_time=start,
            response_time=(time.perf_counter() - t0) * 1000, response_length=n,
            response=None, context={{}}, exception=exc)


class BareRedisSingle(BareRedis):
    single = True


class PgBench(PostgresUser):
    think_time = (0.0, 0.0)
    application_name = "bench_users"

    @task
    def read(self):
        self.execute("select account", QUERY, (random.randint(1, ACCOUNTS),), fetch="one")


class BarePg(User):
    def on_start(self):
        self.conn = psycopg.connect(os.environ["BENCH_PG_DSN"], autocommit=True)
        self.cur = self.conn.cursor()

    @task
    def read(self):
        start, t0, exc = time.time(), time.perf_counter(), None
        try:
            self.cur.execute(QUERY, (random.randint(1, ACCOUNTS),))
            self.cur.fetchone()
        except Exception as e:
            exc = e
        self.environment.events.request.fire(
            request_type="PG", name="select account", start_time=start,
            response_time=(time.perf_counter() - t0) * 1000, response_length=1,
            response=None, context={{}}, exception=exc)


class HttpBench(ApiUser):
    think_time = (0.0, 0.0)

    @task
    def small(self):
        self.api("GET", "/small.json")


class BareHttp(FastHttpUser):
    @task
    def small(self):
        self.client.get("/small.json", name="GET /small.json")
"""


@dataclass(frozen=True)
class Variant:
    label: str
    command: list[str]
    env: dict[str, str]
    json_file: Path | None  # Locust's --json-file (else the loop prints JSON)
    name: str  # the request counted
    steady: Path | None = None  # STEADY_LISTENER's samples
    run_dir: Path | None = None  # the harness's run directory (removed before each run)


@dataclass(frozen=True)
class Kind:
    key: str
    users: int
    op: str
    user: Variant  # A: the chaosbench user with the harness
    bares: list[Variant]  # B, C: the ceilings
    native: Callable[[], tuple[float, str]]  # (req/s, command)
    target: str  # against bares[0]
    goal: float


def shown(cmd: list[str]) -> str:
    return " ".join(a if " " not in a else repr(a) for a in cmd).replace(sys.executable, "python")


def run_variant(v: Variant, limit: float) -> float:
    for stale in (v.steady, Path(f"{v.json_file}.json") if v.json_file else None):
        if stale is not None and stale.exists():
            stale.unlink()
    if v.run_dir is not None:
        shutil.rmtree(v.run_dir, ignore_errors=True)  # the same --run-id in every round
    out = subprocess.run(
        v.command, cwd=ROOT, env=v.env, capture_output=True, text=True, timeout=limit
    )
    if v.json_file is None:
        if out.returncode != 0:
            raise RuntimeError(f"{v.label}: exit {out.returncode}: {out.stderr.strip()[-800:]}")
        data = json.loads(out.stdout.strip().splitlines()[-1])
        if data["errors"]:
            raise RuntimeError(f"{v.label}: {data['errors']} errors: {data['first_error']}")
        return float(data["count"]) / float(data["seconds"])
    assert v.steady is not None
    return locust_steady_rate(Path(f"{v.json_file}.json"), v.steady, v.name, v.label, out.stderr)


def locust_variant(
    label: str, cls: str, users: int, duration: int, work: Path, harness: bool,
    extra: list[str], name: str, pg_dsn: str,
) -> Variant:  # fmt: skip
    tag = f"{cls}-{uuid.uuid4().hex[:6]}"
    stats = work / f"stats-{tag}"
    cmd = [sys.executable, "-m", "locust", "-f", str(work / "bench_users.py"), "--headless",
           "--only-summary", "-u", str(users), "-r", str(users), "-t", f"{duration}s",
           "--json-file", str(stats), "--loglevel", "WARNING", *extra]  # fmt: skip
    if harness:
        cmd += ["--chaos-profile", "none", "--results-dir", str(work / "runs"),
                "--run-id", tag, "--sut-pg-dsn", "none", "--redis-url", REDIS_URL,
                "--redis-prefix", PREFIX, "--pg-dsn", pg_dsn]  # fmt: skip
    steady = work / f"steady-{tag}.json"
    env = {"BENCH_HARNESS": "on" if harness else "off", "BENCH_PG_DSN": pg_dsn,
           "BENCH_STEADY": str(steady), "BENCH_NAME": name, "BENCH_WARMUP": str(WARMUP_S),
           "PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)}  # fmt: skip
    run_dir = work / "runs" / tag if harness else None
    return Variant(label, [*cmd, cls], env, stats, name, steady, run_dir)


def loop_variant(
    label: str, kind: str, users: int, duration: int, work: Path, pg_dsn: str
) -> Variant:
    script = work / "bare_loop.py"
    script.write_text(
        BARE_LOOP.format(key=KEY, redis_url=REDIS_URL, query=PG_QUERY, accounts=ACCOUNTS)
    )
    cmd = [sys.executable, str(script), kind, str(users), str(duration), pg_dsn]
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)}
    return Variant(label, cmd, env, None, "")


# -- the bare loops (child processes) ---------------------------------------------------------

#: ``python BARE_LOOP KIND USERS SECONDS PG_DSN``: greenlets calling the client library in a loop,
#: gevent patched before redis or psycopg is imported (psycopg picks its wait function then).
BARE_LOOP = """
from gevent import monkey
monkey.patch_all()
import json, random, sys, time
import gevent, gevent.event, psycopg, redis

kind, users, duration, pg_dsn = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
KEY, REDIS_URL, QUERY, ACCOUNTS = {key!r}, {redis_url!r}, {query!r}, {accounts}
counts = [0] * users
errors = []
go = gevent.event.Event()


def redis_loop(i):
    r = redis.Redis.from_url(REDIS_URL, single_connection_client=kind == "redis-single")
    r.get(KEY)  # connected before the clock starts
    go.wait()
    end = time.monotonic() + duration
    n = 0
    while time.monotonic() < end:
        r.get(KEY)
        n += 1
    counts[i] = n


def pg_loop(i):
    conn = psycopg.connect(pg_dsn, autocommit=True)
    cur = conn.cursor()
    cur.execute(QUERY, (1,))
    cur.fetchone()
    go.wait()
    end = time.monotonic() + duration
    n = 0
    while time.monotonic() < end:
        cur.execute(QUERY, (random.randint(1, ACCOUNTS),))
        cur.fetchone()
        n += 1
    counts[i] = n


def guarded(i):
    try:
        (pg_loop if kind == "pg" else redis_loop)(i)
    except Exception as exc:
        errors.append(repr(exc))


greenlets = [gevent.spawn(guarded, i) for i in range(users)]
gevent.sleep(0.5)
t0 = time.monotonic()
go.set()
gevent.joinall(greenlets, timeout=duration + 30)
print(json.dumps({{"count": sum(counts), "seconds": time.monotonic() - t0,
                  "errors": len(errors), "first_error": errors[0] if errors else ""}}))
"""


# -- native tools -----------------------------------------------------------------------------


def redis_benchmark(users: int, duration: int) -> tuple[float, str]:
    cmd = ["redis-benchmark", "-h", "127.0.0.1", "-p", "6379", "--dbnum", "5", "-c", str(users),
           "-n", str(60_000 * duration), "-q", "GET", KEY]  # fmt: skip
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=300).stdout
    found = re.findall(r"([\d.]+) requests per second", out)
    return float(found[-1]), shown(cmd)


def pgbench(dsn: str, users: int, duration: int) -> tuple[float, str]:
    cmd = ["pgbench", "-n", "-S", "-c", str(users), "-j", "1", "-T", str(duration), dsn]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=300).stdout
    return float(re.search(r"tps = ([\d.]+)", out).group(1)), shown(cmd)  # type: ignore[union-attr]


def wrk(url: str, users: int, duration: int) -> tuple[float, str]:
    cmd = ["wrk", "-t", "1", "-c", str(users), "-d", f"{duration}s", url]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, timeout=300).stdout
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)), shown(cmd)  # type: ignore[union-attr]


# -- one kind ---------------------------------------------------------------------------------


def measure(kind: Kind, pairs: int, duration: int) -> None:
    variants = [kind.user, *kind.bares]
    rates: dict[str, list[float]] = {v.label: [] for v in variants}
    loads = []
    print(f"-- {kind.key}: {kind.op}, {kind.users} concurrent, {duration} s per run", flush=True)
    for v in variants:
        print(f"   {v.label}: {shown(v.command)}", flush=True)
    for i in range(pairs):
        order = variants if i % 2 == 0 else list(reversed(variants))
        for v in order:
            rates[v.label].append(run_variant(v, duration + 120))
        loads.append(load_average())
        line = ", ".join(f"{v.label} {rates[v.label][-1]:8.0f}/s" for v in variants)
        print(f"   round {i + 1}: {line} (load {loads[-1]})", flush=True)
    native, native_cmd = kind.native()
    a = rates[kind.user.label]
    for j, bare in enumerate(kind.bares):
        b = rates[bare.label]
        ratio = statistics.median(x / y for x, y in zip(a, b, strict=True))
        target = kind.target if j == 0 else ""
        emit(
            Figure(
                "load_throughput",
                f"{kind.user.label} / {bare.label}, {kind.users} users",
                f"{ratio * 100:.1f} % ({statistics.median(a):.0f} vs "
                f"{statistics.median(b):.0f} req/s)",
                target,
                (ratio >= kind.goal) if target else None,
                command=f"{shown(kind.user.command)} ; {shown(bare.command)}",
                note=f"median of {pairs} interleaved rounds; loads {'; '.join(loads)}",
            )
        )
    emit(
        Figure(
            "load_throughput",
            f"{kind.user.label} / {native_cmd.split()[0]}, {kind.users} users",
            f"{statistics.median(a) / native:.3f} ({native:.0f} req/s native)",
            command=native_cmd,
        )
    )


def main() -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.load_throughput")
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--pairs", type=int, default=3)
    ap.add_argument("--kinds", default="redis,pg,http")
    ap.add_argument("--redis-users", type=int, default=16)
    ap.add_argument("--pg-users", type=int, default=16)
    ap.add_argument("--http-users", type=int, default=32)
    ap.add_argument(
        "--db-prefix",
        default="cb_outside_",
        help="the pgbench database is <db-prefix>bench_users (one's own prefix on a shared server)",
    )
    a = ap.parse_args()
    kinds = [k.strip() for k in a.kinds.split(",") if k.strip()]
    bad = [k for k in kinds if k not in ("redis", "pg", "http")]
    if bad:
        print(f"bench: --kinds: no kind {', '.join(bad)} (have redis, pg, http)", file=sys.stderr)
        return 2
    for tool in ("wrk", "pgbench", "redis-benchmark"):
        if shutil.which(tool) is None:
            print(f"bench: {tool} is not installed", file=sys.stderr)
            return 2
    d = a.duration
    print(f"load average at start: {load_average()}", flush=True)
    servers = OutsideServers(tag="bench_users", db_prefix=a.db_prefix)
    with servers as ends, tempfile.TemporaryDirectory() as t:
        work = Path(t)
        (work / "bench_users.py").write_text(
            LOCUSTFILE.format(key=KEY, redis_url=REDIS_URL, query=PG_QUERY, accounts=ACCOUNTS)
            + STEADY_LISTENER
        )
        r = redis.Redis.from_url(REDIS_URL) if "redis" in kinds else None
        if r is not None:
            r.set(KEY, b"x" * 64, ex=3600)
        try:
            for k in kinds:
                measure(build(k, a, ends, work), a.pairs, d)
        finally:
            if r is not None:
                for key in r.scan_iter(f"{PREFIX}*", count=1000):
                    r.delete(key)
                r.close()
    return 0


def build(key: str, a: argparse.Namespace, ends: Endpoints, work: Path) -> Kind:
    d, dsn = a.duration, ends.pg_dsn
    if key == "redis":
        u = a.redis_users
        return Kind(
            "REDIS", u, "GET of a 64-byte key",
            locust_variant("RedisUser+harness", "RedisBench", u, d, work, True, [], "GET", dsn),
            [loop_variant("bare redis-py loop", "redis", u, d, work, dsn),
             loop_variant("bare redis-py loop, single_connection_client", "redis-single", u, d,
                          work, dsn),
             locust_variant("bare Locust User+redis-py", "BareRedis", u, d, work, False, [],
                            "GET", dsn),
             locust_variant("bare Locust User+redis-py single_connection_client",
                            "BareRedisSingle", u, d, work, False, [], "GET", dsn)],
            lambda: redis_benchmark(u, d), "≥ 90 %", 0.90,
        )  # fmt: skip
    if key == "pg":
        u = a.pg_users
        return Kind(
            "PG", u, "pgbench -S's SELECT by aid",
            locust_variant("PostgresUser+harness", "PgBench", u, d, work, True, [],
                           "select account", dsn),
            [loop_variant("bare psycopg loop", "pg", u, d, work, dsn),
             locust_variant("bare Locust User+psycopg", "BarePg", u, d, work, False, [],
                            "select account", dsn)],
            lambda: pgbench(dsn, u, d), "≥ 90 %", 0.90,
        )  # fmt: skip
    u = a.http_users
    host = ["--host", ends.http]
    return Kind(
        "HTTP", u, "GET /small.json on nginx",
        locust_variant("ApiUser+harness", "HttpBench", u, d, work, True, host,
                       "GET /small.json", dsn),
        [locust_variant("bare FastHttpUser", "BareHttp", u, d, work, False, host,
                        "GET /small.json", dsn),
         locust_variant("bare FastHttpUser+harness", "BareHttp", u, d, work, True, host,
                        "GET /small.json", dsn)],
        lambda: wrk(f"{ends.http}/small.json", u, d), "≥ 95 %", 0.95,
    )  # fmt: skip


if __name__ == "__main__":
    sys.exit(run_bench("load_throughput", main))
