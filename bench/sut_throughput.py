"""Throughput of the reference system: order placement and quote reads, measured with wrk.

Starts ``python -m chaosbench.sut`` on a free port with its own schema and Redis prefix (dropped
afterwards),
then runs wrk (``--latency``) against ``POST /api/orders`` (unique Idempotency-Key and
client_order_id per request, so every request creates and commits an order) and
``GET /api/quotes/BTCUSD``. Requests rotate over 1000 X-Client-Id values so that the rate limiter
runs on every request (one Redis round trip) without limiting. Prints requests/s, p50, p99.

    python -m bench.sut_throughput [--duration 10] [--threads 2] [--connections 32]
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path

import psycopg
import redis

from bench._figures import Figure, emit

ROOT = Path(__file__).resolve().parent.parent
PG_DSN = "postgresql://postgres@127.0.0.1:5432/test"
REDIS_URL = "redis://127.0.0.1:6379/0"

ORDER_LUA = r"""
local counter = 0
local threads = 0
function setup(thread)
  thread:set("tid", threads)
  threads = threads + 1
end
function init(args)
  prefix = args[1] .. "-" .. tid .. "-"
end
request = function()
  counter = counter + 1
  local id = prefix .. counter
  local body = '{"symbol":"BTCUSD","side":"buy","quantity":1,"price":100.5,"client_order_id":"'
    .. id .. '"}'
  return wrk.format("POST", "/api/orders", {
    ["Content-Type"] = "application/json",
    ["Idempotency-Key"] = id,
    ["X-Client-Id"] = "bench-" .. (counter % 1000),
  }, body)
end
"""

QUOTE_LUA = r"""
local counter = 0
request = function()
  counter = counter + 1
  return wrk.format("GET", "/api/quotes/BTCUSD", {["X-Client-Id"] = "bench-" .. (counter % 1000)})
end
"""

STATUS_LUA = r"""
local all_threads = {}
local base_setup = setup
setup = function(thread)
  table.insert(all_threads, thread)
  if base_setup then base_setup(thread) end
end
s2xx, s429, s503, sother = 0, 0, 0, 0
response = function(status, headers, body)
  if status < 300 then s2xx = s2xx + 1
  elseif status == 429 then s429 = s429 + 1
  elseif status == 503 then s503 = s503 + 1
  else sother = sother + 1 end
end
done = function(summary, latency, requests)
  local t = {0, 0, 0, 0}
  for _, thread in ipairs(all_threads) do
    t[1] = t[1] + thread:get("s2xx")
    t[2] = t[2] + thread:get("s429")
    t[3] = t[3] + thread:get("s503")
    t[4] = t[4] + thread:get("sother")
  end
  io.write(string.format("STATUS 2xx=%d 429=%d 503=%d other=%d\n", t[1], t[2], t[3], t[4]))
end
"""

_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


@dataclass
class WrkResult:
    name: str
    requests: int
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    non_2xx: int
    statuses: str


def _ms(text: str) -> float:
    m = re.fullmatch(r"([\d.]+)(us|ms|s)", text.strip())
    if not m:
        raise ValueError(f"unexpected wrk latency {text!r}")
    return float(m.group(1)) * _UNITS[m.group(2)]


def parse_wrk(name: str, out: str) -> WrkResult:
    def find(pattern: str, default: str | None = None) -> str:
        m = re.search(pattern, out)
        if m:
            return m.group(1)
        if default is None:
            raise ValueError(f"wrk output lacks {pattern!r}:\n{out}")
        return default

    errors = sum(int(x) for x in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    return WrkResult(
        name=name,
        requests=int(find(r"(\d+) requests in")),
        rps=float(find(r"Requests/sec:\s+([\d.]+)")),
        p50_ms=_ms(find(r"\s50%\s+(\S+)")),
        p99_ms=_ms(find(r"\s99%\s+(\S+)")),
        errors=errors,
        non_2xx=int(find(r"Non-2xx or 3xx responses: (\d+)", "0")),
        statuses=find(r"STATUS (.*)", "?"),
    )


def run_wrk(
    name: str, url: str, script: str, args: argparse.Namespace, tmp: Path, extra: list[str]
) -> WrkResult:
    lua = tmp / f"{name}.lua"
    lua.write_text(script + STATUS_LUA)
    cmd = [
        "wrk",
        f"-t{args.threads}",
        f"-c{args.connections}",
        f"-d{args.duration}s",
        "--latency",
        "-s",
        str(lua),
        url,
        *(["--", *extra] if extra else []),
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=args.duration + 60)
    if out.returncode != 0:
        raise SystemExit(f"bench: wrk failed: {out.stderr.strip() or out.stdout.strip()}")
    return parse_wrk(name, out.stdout)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.sut_throughput")
    parser.add_argument("--duration", type=int, default=10)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--connections", type=int, default=32)
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("bench: wrk is not installed (apt-get install -y wrk)", file=sys.stderr)
        return 2
    tag = uuid.uuid4().hex[:8]
    schema, prefix, port = f"bench_sut_{tag}", f"bench_sut_{tag}:", free_port()
    base = f"http://127.0.0.1:{port}"
    log = tempfile.NamedTemporaryFile(prefix="sut-bench-", suffix=".log", delete=False)
    sut = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "chaosbench.sut",
            "--port",
            str(port),
            "--pg-schema",
            schema,
            "--redis-prefix",
            prefix,
            "--pg-dsn",
            PG_DSN,
            "--redis-url",
            REDIS_URL,
        ],
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(base + "/health", timeout=2) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline or sut.poll() is not None:
                print(f"bench: the SUT did not become healthy (log: {log.name})", file=sys.stderr)
                return 2
            time.sleep(0.2)
        with tempfile.TemporaryDirectory() as tmpdir:
            tmp = Path(tmpdir)
            orders = run_wrk("orders", base, ORDER_LUA, args, tmp, [tag])
            quotes = run_wrk("quotes", base, QUOTE_LUA, args, tmp, [])
        with psycopg.connect(PG_DSN, autocommit=True) as conn:
            row = conn.execute(f'SELECT count(*) FROM "{schema}".orders').fetchone()
            stored = int(row[0]) if row else 0
    finally:
        sut.terminate()
        try:
            sut.wait(10)
        except subprocess.TimeoutExpired:
            sut.kill()
        with psycopg.connect(PG_DSN, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        r = redis.Redis.from_url(REDIS_URL)
        keys = list(r.scan_iter(match=prefix + "*", count=1000))
        if keys:
            r.delete(*keys)
        r.close()

    print(
        f"SUT throughput (wrk -t{args.threads} -c{args.connections} -d{args.duration}s, "
        "one SUT process, PostgreSQL and Redis on loopback)"
    )
    print(f"{'endpoint':<24}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'errors':>8}{'non-2xx':>9}")
    for res, label in ((orders, "POST /api/orders"), (quotes, "GET /api/quotes/BTCUSD")):
        print(
            f"{label:<24}{res.rps:>10.0f}{res.p50_ms:>10.2f}{res.p99_ms:>10.2f}"
            f"{res.errors:>8}{res.non_2xx:>9}   {res.statuses}"
        )
    print(f"orders committed in PostgreSQL: {stored} (wrk counted {orders.requests} responses)")
    print(f"ratio quote reads / order placements: {quotes.rps / orders.rps:.2f}")
    incidents = [
        ln for ln in Path(log.name).read_text(errors="replace").splitlines() if " WARNING " in ln
    ]
    print(f"dependency incidents in the SUT log ({log.name}): {len(incidents)}")
    for line in incidents[:10]:
        print("  " + line)
    with open("/proc/loadavg") as fh:
        print(f"load average at the end: {fh.read().split()[0]} (the machine is shared)")
    print(json.dumps({"orders": orders.__dict__, "quotes": quotes.__dict__, "stored": stored}))
    wrk_args = f"wrk -t{args.threads} -c{args.connections} -d{args.duration}s --latency"
    for res, label in ((orders, "POST /api/orders"), (quotes, "GET /api/quotes/BTCUSD")):
        emit(
            Figure(
                "sut_throughput",
                f"reference system {label} ({wrk_args})",
                f"{res.rps:.0f} req/s, p50 {res.p50_ms:.2f} ms, p99 {res.p99_ms:.2f} ms",
                command=f"python -m bench.sut_throughput --duration {args.duration} "
                f"--threads {args.threads} --connections {args.connections}",
                note=f"errors {res.errors}, non-2xx {res.non_2xx}",
            )
        )
    emit(
        Figure(
            "sut_throughput",
            "orders committed / orders answered",
            f"{stored} / {orders.requests}",
            command="python -m bench.sut_throughput",
        )
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
