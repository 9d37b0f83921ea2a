"""Server and process faults against the reference system: how long it takes to recover.

``python -m bench.server_faults`` starts ``python -m chaosbench.sut`` on its own PostgreSQL
database and Redis
database number, places orders one after another, and measures, for each fault:

- pg_terminate_backends / redis_client_kill: time from the fault until the next acknowledged order;
- process_restart (kill -9, restart, health 200): the RTO the fault records;
- redis_memory_pressure (4 MiB headroom, until OOM): inject and revert durations;
- pg_connection_exhaustion (20 connections): inject and revert durations;

each repeated, with the median, the baseline order latency and the ratio of each recovery to it,
and the largest gevent loop lag seen meanwhile (the faults must not block the loop).
"""

from gevent import monkey

monkey.patch_all()

import json  # noqa: E402
import os  # noqa: E402
import random  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import urllib.error  # noqa: E402
import urllib.request  # noqa: E402
import uuid  # noqa: E402
from collections.abc import Callable  # noqa: E402
from typing import Any  # noqa: E402

import psycopg  # noqa: E402
import redis  # noqa: E402
from gevent import subprocess as gsubprocess  # noqa: E402

from bench._figures import Figure, emit  # noqa: E402
from chaosbench.chaos.faults import FaultContext, catalogue  # noqa: E402
from chaosbench.chaos.faults.base import Fault  # noqa: E402
from chaosbench.users.looplag import LoopLagProbe  # noqa: E402

PG = os.environ.get("CHAOSBENCH_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
BASE = PG.rsplit("/", 1)[0]
REPEAT = 3


def make(type_name: str, ctx: FaultContext, **settings: Any) -> Fault[Any]:
    cls = catalogue()[type_name]
    return cls(f"bench-{type_name}", cls.Settings(**settings), ctx, 1.0)


def place(url: str) -> int:
    cid = uuid.uuid4().hex
    body = {"symbol": "ABC", "side": "buy", "quantity": 1, "price": 10.0, "client_order_id": cid}
    req = urllib.request.Request(
        f"{url}/api/orders",
        data=json.dumps(body).encode(),
        headers={"content-type": "application/json", "idempotency-key": cid},
    )
    try:
        with urllib.request.urlopen(req, timeout=5) as resp:
            return int(resp.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except OSError:
        return 0


def until_acked(url: str, limit: float = 60.0) -> float:
    t0 = time.monotonic()
    while time.monotonic() - t0 < limit:
        if place(url) == 201:
            return time.monotonic() - t0
        time.sleep(0.01)
    return float("inf")


def healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/health", timeout=1) as resp:
            return int(resp.status) == 200
    except (urllib.error.URLError, OSError):
        return False


def timed(fn: Callable[[], object]) -> float:
    t0 = time.monotonic()
    fn()
    return time.monotonic() - t0


def main() -> int:
    tag = f"cbb_{uuid.uuid4().hex[:8]}"
    db = random.randrange(10, 16)
    redis_url = f"redis://127.0.0.1:6379/{db}"
    with psycopg.connect(f"{BASE}/postgres", autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {tag}")
    dsn = f"{BASE}/{tag}"
    port = 20000 + random.randrange(20000)
    url = f"http://127.0.0.1:{port}"
    argv = [sys.executable, "-m", "chaosbench.sut", "--port", str(port), "--pg-dsn", dsn]
    argv += ["--pg-schema", "orders_b", "--redis-url", redis_url, "--redis-prefix", f"{tag}:"]
    argv += ["--quote-rate", "0", "--rate-limit", "0"]
    proc = gsubprocess.Popen(argv, stdout=gsubprocess.DEVNULL, stderr=gsubprocess.DEVNULL)
    resources: dict[str, Any] = {"sut": {"pid": proc.pid, "argv": argv}}
    ctx = FaultContext(rng=random.Random(1), resources=resources)
    probe = LoopLagProbe(0.005).start()
    try:
        deadline = time.monotonic() + 30
        while not healthy(url) and time.monotonic() < deadline:
            time.sleep(0.05)
        lat = [timed(lambda: place(url)) for _ in range(50)]
        base = statistics.median(lat)
        rows: list[tuple[str, list[float]]] = []

        pg_rec, redis_rec, rto = [], [], []
        for _ in range(REPEAT):
            f = make("pg_terminate_backends", ctx, dsn=dsn, application_name="chaosbench-sut")
            f.inject()
            f.revert()
            pg_rec.append(until_acked(url))
            k = make("redis_client_kill", ctx, url=redis_url, client_name="chaosbench-sut", db=db)
            k.inject()
            k.revert()
            redis_rec.append(until_acked(url))
            r = make("process_restart", ctx, resource="sut", health_url=f"{url}/health")
            r.inject()
            r.revert()
            rto.append(float(r.describe()["rto_s"] or float("inf")))
        rows += [("recovery after pg_terminate_backends", pg_rec)]
        rows += [("recovery after redis_client_kill", redis_rec)]
        rows += [("process_restart RTO (kill -9 -> /health 200)", rto)]

        mem_in, mem_out = [], []
        for _ in range(REPEAT):
            m = make("redis_memory_pressure", ctx, url=redis_url, prefix=f"{tag}:fill:")
            mem_in.append(timed(m.inject))
            mem_out.append(timed(m.revert))
        rows += [("redis_memory_pressure inject (4 MiB, to OOM)", mem_in)]
        rows += [("redis_memory_pressure revert", mem_out)]

        ex_in, ex_out = [], []
        for _ in range(REPEAT):
            e = make("pg_connection_exhaustion", ctx, dsn=dsn, connections=20)
            ex_in.append(timed(e.inject))
            ex_out.append(timed(e.revert))
        rows += [("pg_connection_exhaustion inject (20 connections)", ex_in)]
        rows += [("pg_connection_exhaustion revert", ex_out)]

        command = "python -m bench.server_faults"
        emit(Figure("server_faults", "baseline order latency (median of 50)",
                    f"{base * 1000:.1f} ms", command=command))  # fmt: skip
        for label, values in rows:
            med = statistics.median(values)
            emit(
                Figure(
                    "server_faults",
                    f"{label} (median of {len(values)})",
                    f"{med * 1000:.0f} ms ({med / base:.1f}x baseline order latency)",
                    command=command,
                    note=f"all {', '.join(f'{v * 1000:.0f}' for v in values)} ms",
                )
            )
        lag = probe.stop() * 1000
        emit(Figure("server_faults", "largest gevent loop lag meanwhile", f"{lag:.1f} ms",
                    "< 50 ms", lag < 50, command=command))  # fmt: skip
    finally:
        probe.stop()
        pid = resources["sut"]["pid"]
        try:
            os.kill(pid, 15)
        except ProcessLookupError:
            pass
        if proc.poll() is None:
            proc.terminate()
        proc.wait()
        time.sleep(0.5)
        r_ = redis.Redis.from_url(redis_url)
        keys = list(r_.scan_iter(match=f"{tag}:*", count=1000))
        if keys:
            r_.delete(*keys)
        with psycopg.connect(f"{BASE}/postgres", autocommit=True) as admin:
            admin.execute(f"DROP DATABASE IF EXISTS {tag} WITH (FORCE)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
