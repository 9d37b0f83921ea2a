"""Throughput of one Locust process per user kind, beside a reference load generator on the same
target in the same run (wrk for HTTP, pgbench for PostgreSQL, redis-benchmark for Redis).

Starts ``python -m chaosbench.sut`` on a free port (own schema and Redis prefix, no rate limit;
dropped
afterwards). For each kind, a headless ``locust`` process runs closed-model users with no think
time doing one cheap operation (the same one the reference tool does), then the reference tool
runs with the same concurrency for the same time. Prints requests/s of each and the ratio
Locust / reference. The WebSocket row reports delivered feed messages/s against what the feed
published times the subscribers (there is no reference WebSocket load generator here).

    python -m bench.load_throughput [--duration 10] [--users 32] [--harness]

``--harness`` loads the full chaosbench harness (recording etc.) into the Locust process instead
of only the load options, to show its overhead.
"""

from __future__ import annotations

import argparse
import csv
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import psycopg
import redis

ROOT = Path(__file__).resolve().parent.parent
PG_DSN = "postgresql://postgres@127.0.0.1:5432/test"
REDIS_URL = "redis://127.0.0.1:6379/0"

LOCUSTFILE = """
import sys
sys.path.insert(0, {locustfiles!r})
{wiring}
import random
from locust import task
from chaosbench.users import ApiUser, PostgresUser, RedisUser, WebSocketUser


class HttpBench(ApiUser):
    think_time = (0.0, 0.0)

    @task
    def quote(self):
        self.api("GET", "/api/quotes/BTCUSD", name="/api/quotes/[symbol]")


class WsBench(WebSocketUser):
    think_time = (1.0, 1.0)

    @task
    def hold(self):
        pass


class PgBench(PostgresUser):
    think_time = (0.0, 0.0)
    schema_sql = ("CREATE TABLE IF NOT EXISTS bench_kv (id int PRIMARY KEY, v text)",)

    @task
    def read(self):
        self.execute("read", "SELECT v FROM bench_kv WHERE id = %s", (random.randint(1, 1000),),
                     fetch="one")


class RedisBench(RedisUser):
    think_time = (0.0, 0.0)

    @task
    def get(self):
        self.call("GET", lambda r: r.get(self.key("k")))
"""


OPTIONS_ONLY = (
    "from locust import events\n"
    "import chaosbench.users.options\n"
    "chaosbench.users.options.install(events)"
)
HARNESS = "import _harness  # noqa: F401"


@dataclass
class Row:
    kind: str
    locust_rps: float
    reference: str
    reference_rps: float | None

    def line(self) -> str:
        ref = f"{self.reference_rps:10.0f}" if self.reference_rps else "         -"
        ratio = f"{self.locust_rps / self.reference_rps:6.2f}" if self.reference_rps else "     -"
        return f"{self.kind:<6} {self.locust_rps:10.0f}  {self.reference:<28} {ref}  {ratio}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"bench: the reference system did not open port {port}")


def run_locust(
    workdir: Path, user: str, users: int, duration: int, host: str, extra: list[str]
) -> Path:
    prefix = workdir / user
    cmd = [sys.executable, "-m", "locust", "-f", str(workdir / "bench_users.py"), "--headless",
           "-u", str(users), "-r", str(users), "-t", f"{duration}s", "--host", host,
           "--csv", str(prefix), "--only-summary", "--loglevel", "WARNING",
           *extra, user]  # fmt: skip
    subprocess.run(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=False)
    return Path(f"{prefix}_stats.csv")


def stats(path: Path) -> dict[tuple[str, str], dict[str, str]]:
    with open(path) as fh:
        return {(r["Type"], r["Name"]): r for r in csv.DictReader(fh)}


def locust_rps(path: Path, duration: int) -> float:
    agg = stats(path)[("", "Aggregated")]
    return int(agg["Request Count"]) / duration


def wrk(url: str, users: int, duration: int) -> float:
    out = subprocess.run(["wrk", "-t", "2", "-c", str(users), "-d", f"{duration}s", url],
                         capture_output=True, text=True, check=True).stdout  # fmt: skip
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]


def pgbench(dsn: str, schema: str, users: int, duration: int, workdir: Path) -> float:
    script = workdir / "select.sql"
    script.write_text(
        f"\\set id random(1, 1000)\nSELECT v FROM {schema}.bench_kv WHERE id = :id;\n"
    )
    cmd = [
        "pgbench",
        "-n",
        "-c",
        str(users),
        "-j",
        "2",
        "-T",
        str(duration),
        "-f",
        str(script),
        dsn,
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    return float(re.search(r"tps = ([\d.]+)", out).group(1))  # type: ignore[union-attr]


def redis_benchmark(key: str, users: int, duration: int, locust_rate: float) -> float:
    n = max(20000, int(locust_rate * duration * 4))
    out = subprocess.run(["redis-benchmark", "-h", "127.0.0.1", "-p", "6379", "-c", str(users),
                          "-n", str(n), "-q", "GET", key], capture_output=True, text=True,
                         check=True).stdout  # fmt: skip
    return float(re.search(r"([\d.]+) requests per second", out).group(1))  # type: ignore[union-attr]


def main() -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.load_throughput")
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--users", type=int, default=32)
    ap.add_argument("--harness", action="store_true")
    args = ap.parse_args()
    for tool in ("wrk", "pgbench", "redis-benchmark"):
        if shutil.which(tool) is None:
            print(f"bench: {tool} is not installed", file=sys.stderr)
            return 2

    tag = f"cbbench_{uuid.uuid4().hex[:8]}"
    port = free_port()
    workdir = Path(tempfile.mkdtemp(prefix="cb-load-bench-"))
    (workdir / "bench_users.py").write_text(
        LOCUSTFILE.format(
            locustfiles=str(ROOT / "locustfiles"), wiring=HARNESS if args.harness else OPTIONS_ONLY
        )
    )
    common = ["--pg-dsn", PG_DSN, "--pg-schema", f"{tag}_load", "--redis-url", REDIS_URL,
              "--redis-prefix", f"{tag}:load:"]  # fmt: skip
    sut = subprocess.Popen(
        [sys.executable, "-m", "chaosbench.sut", "--port", str(port), "--pg-dsn", PG_DSN,
         "--pg-schema", f"{tag}_sut", "--redis-url", REDIS_URL, "--redis-prefix", f"{tag}:sut:",
         "--rate-limit", "0", "--quote-rate", "200"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    r = redis.Redis.from_url(REDIS_URL)
    rows: list[Row] = []
    try:
        wait_port(port)
        host = f"http://127.0.0.1:{port}"
        d, u = args.duration, args.users
        print(
            f"one Locust process vs reference tool, {u} concurrent, {d} s each "
            f"({'full harness' if args.harness else 'load options only'})",
            flush=True,
        )

        rps = locust_rps(run_locust(workdir, "HttpBench", u, d, host, common), d)
        rows.append(
            Row("HTTP", rps, "wrk GET /api/quotes/BTCUSD", wrk(f"{host}/api/quotes/BTCUSD", u, d))
        )
        print(rows[-1].line(), flush=True)

        with psycopg.connect(PG_DSN, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{tag}_load"')
            conn.execute(
                f'CREATE TABLE IF NOT EXISTS "{tag}_load".bench_kv (id int PRIMARY KEY, v text)'
            )
            conn.execute(
                f'INSERT INTO "{tag}_load".bench_kv SELECT g, md5(g::text) '
                "FROM generate_series(1, 1000) g ON CONFLICT DO NOTHING"
            )
        rps = locust_rps(run_locust(workdir, "PgBench", u, d, host, common), d)
        rows.append(
            Row(
                "PG",
                rps,
                "pgbench -S-like (same query)",
                pgbench(PG_DSN, f"{tag}_load", u, d, workdir),
            )
        )
        print(rows[-1].line(), flush=True)

        r.set(f"{tag}:load:k", b"x" * 64, ex=600)
        rps = locust_rps(run_locust(workdir, "RedisBench", u, d, host, common), d)
        rows.append(
            Row("REDIS", rps, "redis-benchmark GET", redis_benchmark(f"{tag}:load:k", u, d, rps))
        )
        print(rows[-1].line(), flush=True)

        path = run_locust(workdir, "WsBench", u, d, host, common)
        st = stats(path)
        delivered = sum(
            int(v["Request Count"])
            for k, v in st.items()
            if k[0] == "WS" and k[1].startswith("message")
        )
        rows.append(Row("WS", delivered / d, "published x subscribers", 200.0 * u))
        print(rows[-1].line() + "   (messages/s delivered; 200 quotes/s fed)", flush=True)
    finally:
        sut.terminate()
        try:
            sut.wait(10)
        except subprocess.TimeoutExpired:
            sut.kill()
        with psycopg.connect(PG_DSN, autocommit=True) as conn:
            for schema in (f"{tag}_load", f"{tag}_sut"):
                conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        keys = list(r.scan_iter(match=f"{tag}:*", count=1000))
        for i in range(0, len(keys), 500):
            r.delete(*keys[i : i + 500])
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
