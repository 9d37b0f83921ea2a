"""Overhead of the fault proxy with no toxic, against a direct connection: the harness's default
(the proxy as its own process) and the embedded one (in a gevent process with load users), side
by side and interleaved in one run, with one core kept busy and without.

    python -m bench.proxy_overhead [--pings 5000] [--rounds 3] [--requests 50000]
                                   [--seconds 1] [--wrk-seconds 3] [--users 20]

Paths, each measured in turn (A B C D A B C D ...) so that all see the same machine load:

- ``direct``: the client to the server;
- ``process``: through ``python -m chaosbench.proxy`` started as the harness starts it
  (``chaosbench.proxy.child.ProxyProcess``, the ``--chaos-proxy process`` default);
- ``embedded``: through the same proxy embedded in a gevent-patched process that also runs
  ``--users`` load greenlets (Redis PINGs every 10 ms each), as in Locust with
  ``--chaos-proxy embedded``; the same users run in a process of their own for the other paths;
- ``socat``: a C relay, when ``socat`` is installed.

Conditions: ``quiet`` and ``one core busy`` (a CPU hog child spinning for the whole block).

Figures (each through ``bench._figures.emit``, with the load average):

1. added latency per hop at one connection: raw-socket ``PING``/``+PONG`` round trips with Redis
   in blocks of 50 per path; median difference to direct (target < 50 µs with one core busy);
2. request rate at ten connections: ``redis-benchmark -c 10 -t ping``, ratio of medians
   (target >= 0.5 of direct);
3. byte rate at ten connections: ten readers draining a local byte source for ``--seconds``,
   ratio of medians (target >= 0.5 of direct);
4. an HTTP route (``protocol: http``) with ``wrk`` against a tiny local HTTP server for
   ``--wrk-seconds`` per run: added median latency at one connection, request rate at ten as a
   ratio; the spread (min to max over the rounds) is printed with each.

Only loopback; Redis sees PINGs only (no keys written).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench._figures import Figure, emit, load_average  # noqa: E402
from chaosbench.proxy.child import ProxyProcess  # noqa: E402

REDIS = ("127.0.0.1", 6379)
NAME = "proxy_overhead"

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

#: A Locust-like gevent process: load users (Redis PINGs every 10 ms each) and, with an API
#: address, the embedded proxy in the same hub. Ends at stdin EOF (or after an hour at most).
USERS_HOST = r"""
from gevent import monkey; monkey.patch_all()
import os, socket, sys, time
import gevent, gevent.os
users, api = int(sys.argv[1]), sys.argv[2]
if api != "-":
    from chaosbench.proxy.server import EmbeddedProxy
    EmbeddedProxy(api).start()
end = time.monotonic() + 3600
def user():
    s = socket.create_connection(("127.0.0.1", 6379))
    while time.monotonic() < end:
        s.sendall(b"PING\r\n")
        s.recv(64)
        gevent.sleep(0.01)
for _ in range(users):
    gevent.spawn(user)
print("ready", flush=True)
os.set_blocking(0, False)
while gevent.os.nb_read(0, 64):
    pass
"""

HOG = "import time\nend = time.monotonic() + 3600\nwhile time.monotonic() < end:\n    pass\n"


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


@dataclass
class Path_:
    """One way to reach the servers: Redis, the byte source and the HTTP server addresses."""

    name: str
    redis: tuple[str, int]
    bulk: tuple[str, int]
    http: int | None  # port; None: no HTTP route on this path (socat)
    pid: int | None = None  # the relay's own process (its CPU time is read), when it has one
    cpu: list[float] = field(default_factory=list)  # CPU µs per redis-benchmark request


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` and its reaped children (socat forks one per
    connection), Linux /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def rate_and_cpu(p: Path_, requests: int) -> float:
    """redis-benchmark's rate on ``p``; the relay's CPU per request goes to ``p.cpu``."""
    before = cpu_seconds(p.pid) if p.pid else 0.0
    rate = redis_benchmark(p.redis[1], requests)
    if p.pid:
        p.cpu.append((cpu_seconds(p.pid) - before) / requests * 1e6)
    return rate


def wait_api(base: str, proc: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(base + "/version", timeout=1).read()
            return
        except OSError:
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError(f"the proxy at {base} did not start") from None
            time.sleep(0.05)


def proxy_path(
    name: str, base: str, redis: str, bulk_port: int, http_port: int, pid: int | None
) -> Path_:
    return Path_(
        name,
        route(base, "redis", redis),
        route(base, "bulk", f"127.0.0.1:{bulk_port}"),
        route(base, "web", f"127.0.0.1:{http_port}", "http")[1],
        pid,
    )


def socat(target: tuple[str, int]) -> tuple[subprocess.Popen[bytes], tuple[str, int]]:
    port = free_port()
    proc = subprocess.Popen(
        ["socat", f"TCP-LISTEN:{port},bind=127.0.0.1,fork,reuseaddr",
         f"TCP:{target[0]}:{target[1]},nodelay"],
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return proc, ("127.0.0.1", port)
        except OSError:
            if time.monotonic() > deadline:
                raise RuntimeError("socat did not start") from None
            time.sleep(0.05)


def spread(values: list[float], fmt: str = "{:.0f}") -> str:
    return f"{fmt.format(min(values))}..{fmt.format(max(values))}"


def interleaved(
    paths: list[Path_], rounds: int, measure: Callable[[Path_], float]
) -> dict[str, list[float]]:
    """``measure`` each path in turn, ``rounds`` times (A B C A B C ...)."""
    out: dict[str, list[float]] = {p.name: [] for p in paths}
    for _ in range(rounds):
        for p in paths:
            out[p.name].append(measure(p))
    return out


def condition(label: str, paths: list[Path_], args: argparse.Namespace, wrk_ok: bool) -> None:
    print(f"-- {label} (load average {load_average()}): paths {', '.join(p.name for p in paths)}")
    direct = paths[0]

    # 1. latency per hop, one connection, blocks of 50 per path
    pingers = [Pinger(p.redis) for p in paths]
    try:
        for _ in range(max(1, args.pings // 50)):
            for pinger in pingers:
                pinger.ping(50)
    finally:
        for pinger in pingers:
            pinger.close()
    d50 = pct(pingers[0].samples, 0.5)
    for p, pinger in zip(paths, pingers, strict=True):
        m50, m99 = pct(pinger.samples, 0.5), pct(pinger.samples, 0.99)
        print(f"  {p.name:<9} PING round trip median {m50:7.1f} µs  p99 {m99:8.1f} µs")
        if p is direct:
            continue
        added = m50 - d50
        emit(Figure(
            NAME, f"added latency per hop, {p.name} proxy, 1 connection, median ({label})",
            f"{added:+.1f} µs (direct {d50:.1f} µs, proxied {m50:.1f} µs, p99 {m99:.0f} µs)",
            target="< 50 µs", met=added < 50,
            command=f"raw-socket PING/+PONG to Redis, {len(pinger.samples)} per path in blocks "
            "of 50, interleaved with direct",
        ))  # fmt: skip

    # 2. redis-benchmark -c 10 PING
    if shutil.which("redis-benchmark"):
        for p in paths:
            p.cpu.clear()
        rates = interleaved(paths, args.rounds, lambda p: rate_and_cpu(p, args.requests))
        rd = statistics.median(rates[direct.name])
        print(f"  direct    redis-benchmark {rd:9.0f} req/s ({spread(rates[direct.name])})")
        for p in paths[1:]:
            rp = statistics.median(rates[p.name])
            emit(Figure(
                NAME, f"redis-benchmark -c 10 PING, {p.name} / direct ({label})",
                f"{rp / rd:.2f} ({rp:.0f} of {rd:.0f} req/s; {p.name} {spread(rates[p.name])})",
                target=">= 0.50", met=rp / rd >= 0.5,
                command=f"redis-benchmark -h 127.0.0.1 -p PORT -c 10 -n {args.requests} -t ping "
                f"-q, {args.rounds} rounds interleaved",
            ))  # fmt: skip
            if p.cpu:  # the relay's cost, much less sensitive to the machine's load
                emit(Figure(
                    NAME, f"CPU per relayed PING request, {p.name} relay ({label})",
                    f"{statistics.median(p.cpu):.1f} µs (user + system, both directions; "
                    f"{spread(p.cpu, '{:.1f}')})",
                    command="utime + stime of the relay process (/proc/PID/stat) over each "
                    "redis-benchmark run, divided by its requests",
                ))  # fmt: skip
    else:
        print("  redis-benchmark: not installed, skipped")

    # 3. bulk bytes, ten connections
    mbs = interleaved(paths, args.rounds, lambda p: bulk(p.bulk, args.seconds))
    bd = statistics.median(mbs[direct.name])
    print(f"  direct    bulk {bd:8.0f} MB/s ({spread(mbs[direct.name])})")
    for p in paths[1:]:
        bp = statistics.median(mbs[p.name])
        emit(Figure(
            NAME, f"bulk bytes, 10 connections, {p.name} / direct ({label})",
            f"{bp / bd:.2f} ({bp:.0f} of {bd:.0f} MB/s; {p.name} {spread(mbs[p.name])})",
            target=">= 0.50", met=bp / bd >= 0.5,
            command=f"10 reader threads recv_into 256 KiB for {args.seconds} s, "
            f"{args.rounds} rounds interleaved",
        ))  # fmt: skip

    # 4. HTTP route, wrk
    if not wrk_ok:
        print("  HTTP route: wrk not installed, skipped")
        return
    web = [p for p in paths if p.http is not None]
    lat = interleaved(web, args.rounds, lambda p: wrk(p.http or 0, 1, args.wrk_seconds)[1])
    rps = interleaved(web, args.rounds, lambda p: wrk(p.http or 0, 10, args.wrk_seconds)[0])
    md1, md10 = statistics.median(lat[direct.name]), statistics.median(rps[direct.name])
    for p in web[1:]:
        mp1, mp10 = statistics.median(lat[p.name]), statistics.median(rps[p.name])
        emit(Figure(
            NAME, f"HTTP route, added median latency, 1 connection, {p.name} ({label})",
            f"{mp1 - md1:+.0f} µs (direct {md1:.0f} µs {spread(lat[direct.name])}, "
            f"proxied {mp1:.0f} µs {spread(lat[p.name])})",
            command=f"wrk -t1 -c1 -d{args.wrk_seconds}s --latency http://127.0.0.1:PORT/, "
            f"{args.rounds} rounds interleaved",
        ))  # fmt: skip
        emit(Figure(
            NAME, f"HTTP route, wrk -c 10, {p.name} / direct ({label})",
            f"{mp10 / md10:.2f} ({mp10:.0f} of {md10:.0f} req/s; {p.name} "
            f"{spread(rps[p.name])}, direct {spread(rps[direct.name])})",
            command=f"wrk -t1 -c10 -d{args.wrk_seconds}s http://127.0.0.1:PORT/, "
            f"{args.rounds} rounds interleaved",
        ))  # fmt: skip


def main() -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.proxy_overhead")
    ap.add_argument("--pings", type=int, default=5_000, help="pings per path and condition")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved throughput rounds")
    ap.add_argument("--requests", type=int, default=50_000, help="redis-benchmark -n")
    ap.add_argument("--seconds", type=float, default=1.0, help="bulk transfer time per run")
    ap.add_argument("--wrk-seconds", type=int, default=3, help="wrk -d per run")
    ap.add_argument("--users", type=int, default=20, help="load users next to each proxy")
    ap.add_argument("--conditions", default="quiet,busy", help="quiet, busy (one core hogged)")
    args = ap.parse_args()
    print(f"python -m bench.proxy_overhead {' '.join(sys.argv[1:])}".rstrip())
    print(f"load average at start: {load_average()}; {os.cpu_count()} cores")

    procs: list[subprocess.Popen[Any]] = []

    def start(cmd: list[str], **kw: Any) -> subprocess.Popen[str]:
        proc: subprocess.Popen[str] = subprocess.Popen(cmd, cwd=ROOT, text=True, **kw)
        procs.append(proc)
        return proc

    child = ProxyProcess(f"127.0.0.1:{free_port()}")
    try:
        source = start([sys.executable, "-c", SOURCE], stdout=subprocess.PIPE)
        http_up = start([sys.executable, "-c", HTTP_UPSTREAM], stdout=subprocess.PIPE)
        assert source.stdout is not None and http_up.stdout is not None
        bulk_port, http_port = int(source.stdout.readline()), int(http_up.stdout.readline())
        child.start()  # the process proxy, as the harness starts it
        embedded_api = f"127.0.0.1:{free_port()}"
        hosts = [  # the users next to the process proxy; the embedded proxy with its users
            start([sys.executable, "-c", USERS_HOST, str(args.users), "-"],
                  stdin=subprocess.PIPE, stdout=subprocess.PIPE),
            start([sys.executable, "-c", USERS_HOST, str(args.users), embedded_api],
                  stdin=subprocess.PIPE, stdout=subprocess.PIPE),
        ]  # fmt: skip
        for host in hosts:
            assert host.stdout is not None
            if host.stdout.readline().strip() != "ready":
                raise RuntimeError("a users host did not start")
        wait_api(f"http://{embedded_api}", hosts[1])
        paths = [
            Path_("direct", REDIS, ("127.0.0.1", bulk_port), http_port),
            proxy_path("process", child.url, "127.0.0.1:6379", bulk_port, http_port, child.pid),
            proxy_path("embedded", f"http://{embedded_api}", "127.0.0.1:6379", bulk_port,
                       http_port, None),  # its process also runs the users: no CPU figure
        ]  # fmt: skip
        if shutil.which("socat"):
            sr, redis_addr = socat(REDIS)
            sb, bulk_addr = socat(("127.0.0.1", bulk_port))
            procs += [sr, sb]
            paths.append(Path_("socat", redis_addr, bulk_addr, None, sr.pid))
        else:
            print("socat: not installed, skipped")
        print(f"process proxy: {' '.join(child.command())}")
        print(f"embedded proxy: python -c USERS_HOST {args.users} {embedded_api} "
              f"(gevent, {args.users} users in the same hub)")  # fmt: skip
        wrk_ok = shutil.which("wrk") is not None
        for cond in [c.strip() for c in args.conditions.split(",") if c.strip()]:
            if cond == "busy":
                hog = start([sys.executable, "-c", HOG])
                try:
                    condition("one core busy", paths, args, wrk_ok)
                finally:
                    hog.kill()
                    hog.wait(10)
            else:
                condition("quiet", paths, args, wrk_ok)
        return 0
    finally:
        child.stop()
        for proc in procs:
            if proc.stdin is not None:
                proc.stdin.close()
            if proc.poll() is None:
                proc.terminate()
        for proc in procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()


if __name__ == "__main__":
    sys.exit(main())
