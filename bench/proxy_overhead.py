"""Overhead of the embedded fault proxy with no toxic, against a direct connection, same run.

    python -m bench.proxy_overhead [--pings 10000] [--rounds 3] [--requests 50000] [--seconds 1]

The proxy runs as ``python -m chaosbench.proxy`` in its own process (one gevent hub, one core), with
two TCP routes: Redis (127.0.0.1:6379) and a bulk byte source started here. Figures:

1. latency per hop at one connection: a raw-socket ``PING``/``+PONG`` ping-pong with Redis,
   direct and proxied alternating in blocks of 50; median and p99 of each and the difference
   (the proxy's added latency per hop; target: under 100 µs, Toxiproxy's own figure);
2. request throughput at ten connections: ``redis-benchmark -c 10 -t ping`` direct and proxied,
   alternating ``--rounds`` times, medians as a ratio;
3. byte throughput at ten connections: ten readers draining the bulk source for ``--seconds``,
   direct and proxied alternating ``--rounds`` times, medians as a ratio;
4. an HTTP route (``protocol: http``, messages framed per request) with ``wrk`` against a tiny
   local HTTP server: added median latency at one connection, request rate at ten as a ratio.

Only loopback; Redis sees PINGs only (no keys written).
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REDIS = ("127.0.0.1", 6379)

SOURCE = r"""
import socket, sys, threading
buf = b"x" * (256 * 1024)
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", 0)); srv.listen(64)
print(srv.getsockname()[1], flush=True)
def serve(c):
    try:
        while True:
            c.sendall(buf)
    except OSError:
        c.close()
while True:
    c, _ = srv.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
"""

HTTP_UPSTREAM = r"""
from gevent import monkey; monkey.patch_all()
import socket
from gevent.server import StreamServer
RESP = (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 12\r\n\r\n"
        b'{"ok": true}')
def handle(s, addr):
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    buf = b""
    try:
        while True:
            d = s.recv(65536)
            if not d:
                return
            buf += d
            while b"\r\n\r\n" in buf:
                _, buf = buf.split(b"\r\n\r\n", 1)
                s.sendall(RESP)
    except OSError:
        pass
srv = StreamServer(("127.0.0.1", 0), handle)
srv.start()
print(srv.server_port, flush=True)
srv.serve_forever()
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def api(base: str, method: str, path: str, body: object) -> dict:
    req = urllib.request.Request(
        base + path,
        data=json.dumps(body).encode(),
        method=method,
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        return dict(json.loads(resp.read()))


def route(base: str, name: str, upstream: str, protocol: str = "tcp") -> tuple[str, int]:
    """Create a route on the proxy; its listen address."""
    body = {"name": name, "listen": "127.0.0.1:0", "upstream": upstream, "protocol": protocol}
    info = api(base, "POST", "/proxies", body)
    return "127.0.0.1", int(str(info["listen"]).rsplit(":", 1)[1])


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))]


class Pinger:
    """One Redis connection doing PING / +PONG round trips, timed one by one (µs)."""

    def __init__(self, addr: tuple[str, int]) -> None:
        self.sock = socket.create_connection(addr)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.samples: list[float] = []
        self.ping(50, keep=False)  # warm up

    def ping(self, n: int, keep: bool = True) -> None:
        s = self.sock
        for _ in range(n):
            t = time.perf_counter_ns()
            s.sendall(b"PING\r\n")
            if s.recv(64) != b"+PONG\r\n":
                raise RuntimeError("unexpected answer to PING")
            if keep:
                self.samples.append((time.perf_counter_ns() - t) / 1000.0)

    def close(self) -> None:
        self.sock.close()


def ping_pong(direct: tuple[str, int], proxied: tuple[str, int], n: int) -> tuple[Pinger, Pinger]:
    """``n`` pings on each path, alternating in blocks of 50 so both see the same machine load."""
    a, b = Pinger(direct), Pinger(proxied)
    try:
        for _ in range(max(1, n // 50)):
            a.ping(50)
            b.ping(50)
    finally:
        a.close()
        b.close()
    return a, b


def redis_benchmark(port: int, requests: int) -> float:
    res = subprocess.run(
        [
            "redis-benchmark",
            "-h",
            "127.0.0.1",
            "-p",
            str(port),
            "-c",
            "10",
            "-n",
            str(requests),
            "-t",
            "ping",
            "-q",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    rates = [float(x) for x in re.findall(r"([\d.]+) requests per second", res.stdout)]
    if not rates:
        raise RuntimeError(f"redis-benchmark: no figures ({res.stdout[-200:]}{res.stderr[-200:]})")
    return statistics.mean(rates)


def wrk(port: int, conns: int, seconds: float) -> tuple[float, float]:
    """requests/s and median latency (µs) of ``wrk`` on ``GET /``."""
    res = subprocess.run(
        ["wrk", "-t1", f"-c{conns}", f"-d{max(1, round(seconds))}s", "--latency",
         f"http://127.0.0.1:{port}/"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    rate = re.search(r"Requests/sec:\s+([\d.]+)", res.stdout)
    med = re.search(r"50%\s+([\d.]+)(us|ms|s)", res.stdout)
    if not rate or not med:
        raise RuntimeError(f"wrk: no figures ({res.stdout[-200:]}{res.stderr[-200:]})")
    scale = {"us": 1.0, "ms": 1000.0, "s": 1e6}[med.group(2)]
    return float(rate.group(1)), float(med.group(1)) * scale


def bulk(addr: tuple[str, int], seconds: float, conns: int = 10) -> float:
    """MB/s drained by ``conns`` readers in ``seconds``."""
    total = [0] * conns
    stop = time.monotonic() + seconds

    def reader(i: int) -> None:
        s = socket.create_connection(addr)
        buf = bytearray(256 * 1024)
        try:
            while time.monotonic() < stop:
                n = s.recv_into(buf)
                if not n:
                    break
                total[i] += n
        finally:
            s.close()

    threads = [threading.Thread(target=reader, args=(i,)) for i in range(conns)]
    t = time.monotonic()
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return sum(total) / (time.monotonic() - t) / 1e6


def main() -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.proxy_overhead")
    ap.add_argument("--pings", type=int, default=10_000, help="pings per path")
    ap.add_argument("--rounds", type=int, default=3, help="alternating throughput runs")
    ap.add_argument("--requests", type=int, default=50_000, help="redis-benchmark -n")
    ap.add_argument("--seconds", type=float, default=1.0, help="bulk transfer time per run")
    args = ap.parse_args()

    api_port = free_port()
    proxy = subprocess.Popen(
        [sys.executable, "-m", "chaosbench.proxy", "--api", f"127.0.0.1:{api_port}"],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
    )
    source = subprocess.Popen([sys.executable, "-c", SOURCE], stdout=subprocess.PIPE, text=True)
    http_up = subprocess.Popen(
        [sys.executable, "-c", HTTP_UPSTREAM], stdout=subprocess.PIPE, text=True
    )
    try:
        assert source.stdout is not None
        source_port = int(source.stdout.readline())
        base = f"http://127.0.0.1:{api_port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(base + "/version", timeout=1).read()
                break
            except OSError:
                if time.monotonic() > deadline or proxy.poll() is not None:
                    print("bench.proxy_overhead: the proxy did not start", file=sys.stderr)
                    return 2
                time.sleep(0.1)
        proxied_redis = route(base, "redis", "127.0.0.1:6379")
        proxied_bulk = route(base, "bulk", f"127.0.0.1:{source_port}")
        direct_bulk = ("127.0.0.1", source_port)

        a, b = ping_pong(REDIS, proxied_redis, args.pings)
        d50, d90, d99 = (pct(a.samples, q) for q in (0.5, 0.9, 0.99))
        p50, p90, p99 = (pct(b.samples, q) for q in (0.5, 0.9, 0.99))
        print(f"1 connection, PING round trip ({len(a.samples)} per path, interleaved):")
        print(f"  direct   median {d50:8.1f} µs   p90 {d90:8.1f} µs   p99 {d99:8.1f} µs")
        print(f"  proxied  median {p50:8.1f} µs   p90 {p90:8.1f} µs   p99 {p99:8.1f} µs")
        print(
            f"  added per hop: median {p50 - d50:+.1f} µs, p90 {p90 - d90:+.1f} µs, "
            f"p99 {p99 - d99:+.1f} µs  (target: < 100 µs)"
        )

        if shutil.which("redis-benchmark"):
            rds, rps = [], []
            for _ in range(args.rounds):
                rds.append(redis_benchmark(REDIS[1], args.requests))
                rps.append(redis_benchmark(proxied_redis[1], args.requests))
            rd, rp = statistics.median(rds), statistics.median(rps)
            print(f"10 connections, redis-benchmark PING (median of {args.rounds} alternating):")
            print(f"  direct {rd:10.0f} req/s   proxied {rp:10.0f} req/s   ratio {rp / rd:.2f}")
        else:
            print("10 connections, redis-benchmark: not installed, skipped")

        bds, bps = [], []
        for _ in range(args.rounds):
            bds.append(bulk(direct_bulk, args.seconds))
            bps.append(bulk(proxied_bulk, args.seconds))
        bd, bp = statistics.median(bds), statistics.median(bps)
        print(f"10 connections, bulk bytes (median of {args.rounds} alternating):")
        print(f"  direct {bd:8.0f} MB/s   proxied {bp:8.0f} MB/s   ratio {bp / bd:.2f}")

        if shutil.which("wrk"):
            assert http_up.stdout is not None
            http_port = int(http_up.stdout.readline())
            http_route = route(base, "web", f"127.0.0.1:{http_port}", "http")[1]
            d1, p1, d10, p10 = [], [], [], []
            for _ in range(args.rounds):
                d1.append(wrk(http_port, 1, args.seconds)[1])
                p1.append(wrk(http_route, 1, args.seconds)[1])
                d10.append(wrk(http_port, 10, args.seconds)[0])
                p10.append(wrk(http_route, 10, args.seconds)[0])
            md1, mp1 = statistics.median(d1), statistics.median(p1)
            md10, mp10 = statistics.median(d10), statistics.median(p10)
            print(f"HTTP route (protocol http), wrk GET (median of {args.rounds} alternating):")
            print(f"  1 connection: median direct {md1:.0f} µs, proxied {mp1:.0f} µs, "
                  f"added {mp1 - md1:+.0f} µs")  # fmt: skip
            print(f"  10 connections: direct {md10:.0f} req/s, proxied {mp10:.0f} req/s, "
                  f"ratio {mp10 / md10:.2f}")  # fmt: skip
        else:
            print("HTTP route: wrk not installed, skipped")
        return 0
    finally:
        for proc in (proxy, source, http_up):
            proc.terminate()
        for proc in (proxy, source, http_up):
            proc.wait(10)


if __name__ == "__main__":
    sys.exit(main())
