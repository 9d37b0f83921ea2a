"""Overhead of the fault proxy with no toxic, against a direct connection: the harness's default
(the proxy as its own process) and the embedded one (in a gevent process with load users), side
by side and interleaved in one run, with one core kept busy and without.

    python -m bench.proxy_overhead [--pings 5000] [--rounds 6] [--requests 100000]
                                   [--seconds 3] [--wrk-seconds 3] [--users 20]

Paths, each measured in turn, the order reversed every other round (A B C D, D C B A, ...), so
that all see the same machine load and a drift of it favours none:

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
2. request rate at ten connections: ``redis-benchmark -c 10 -t ping`` (``--requests`` each
   run), the median over ``--rounds`` (>= 5) of each round's proxied / direct ratio (target
   >= 0.5), every round's ratio printed with it;
3. byte rate at ten connections: ten readers draining a local byte source for ``--seconds``,
   the same median of per-round ratios (target >= 0.5);
4. an HTTP route (``protocol: http``) with ``wrk`` against a tiny local HTTP server for
   ``--wrk-seconds`` per run: added median latency at one connection (median of the rounds'
   differences), request rate at ten as the median of per-round ratios; the spread (min to max
   over the rounds) is printed with each.

Only loopback; Redis sees PINGs only (no keys written).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
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
from bench.noise import die_with_parent  # noqa: E402
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


def redis_benchmark(port: int, requests: int) -> tuple[float, int]:
    """The mean rate of ``redis-benchmark -t ping``'s tests (PING_INLINE and PING_MBULK, each
    ``requests`` long) and the requests it made in all."""
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
    return statistics.mean(rates), requests * len(rates)


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


def bulk(addr: tuple[str, int], seconds: float, conns: int = 10) -> tuple[float, float]:
    """MB/s drained by ``conns`` readers in ``seconds``, and the MB drained."""
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
    return sum(total) / (time.monotonic() - t) / 1e6, sum(total) / 1e6


@dataclass
class Path_:
    """One way to reach the servers: Redis, the byte source and the HTTP server addresses."""

    name: str
    redis: tuple[str, int]
    bulk: tuple[str, int]
    http: int | None  # port; None: no HTTP route on this path (socat)
    #: the relay's own processes (their CPU time is read), when it has any (socat: one per route)
    pids: tuple[int, ...] = ()
    #: the relay process's CPU µs per unit of work, per figure ("ping": per request, "bulk": per MB)
    cpu: dict[str, list[float]] = field(default_factory=dict)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of process ``pid`` and its reaped children (socat forks one per
    connection), Linux /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(f) for f in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def with_cpu(p: Path_, key: str, run: Callable[[], tuple[float, float]]) -> float:
    """``run()`` (its figure and the units of work it relayed) on ``p``; the relay process's CPU
    time per unit goes to ``p.cpu[key]`` (µs) when it has a process of its own."""
    before = sum(cpu_seconds(pid) for pid in p.pids)
    figure, units = run()
    if p.pids and units:
        spent = sum(cpu_seconds(pid) for pid in p.pids) - before
        p.cpu.setdefault(key, []).append(spent / units * 1e6)
    return figure


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
        (pid,) if pid else (),
    )


def socat(target: tuple[str, int]) -> tuple[subprocess.Popen[bytes], tuple[str, int]]:
    port = free_port()
    proc = subprocess.Popen(
        ["socat", f"TCP-LISTEN:{port},bind=127.0.0.1,fork,reuseaddr",
         f"TCP:{target[0]}:{target[1]},nodelay"],
        stderr=subprocess.DEVNULL, preexec_fn=die_with_parent,
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
    """``measure`` each path in turn, ``rounds`` times, the order reversed every other round
    (A B C, C B A, A B C, ...) so that a drift of the machine's load favours no path."""
    out: dict[str, list[float]] = {p.name: [] for p in paths}
    for i in range(rounds):
        for p in paths if i % 2 == 0 else paths[::-1]:
            out[p.name].append(measure(p))
    return out


@dataclass(frozen=True)
class Ratio:
    """A throughput figure of ``path`` against ``direct``: the median of the per-round ratios
    (each round measured both, so what loaded the machine then loaded both)."""

    path: str
    per_round: list[float]
    values: list[float]  # the path's own figures, one per round
    direct: list[float]  # direct's, same rounds

    @property
    def median(self) -> float:
        return statistics.median(self.per_round)


def ratios(measured: dict[str, list[float]], direct: str) -> list[Ratio]:
    """Per path but ``direct``: the per-round ratios to ``direct`` of ``interleaved``'s figures."""
    base = measured[direct]
    return [
        Ratio(name, [v / b if b else float("nan") for v, b in zip(vals, base, strict=True)],
              vals, base)
        for name, vals in measured.items() if name != direct
    ]  # fmt: skip


def emit_ratio(r: Ratio, what: str, unit: str, command: str, target: bool = True) -> None:
    """One throughput ratio figure: the median of the per-round ratios, the rounds' ratios,
    and both sides' medians and spreads in ``unit``."""
    rounds = " ".join(f"{x:.2f}" for x in r.per_round)
    emit(Figure(
        NAME, f"{what}, {r.path} / direct",
        f"{r.median:.2f} (median of {len(r.per_round)} rounds' ratios: {rounds}; "
        f"{r.path} {statistics.median(r.values):.0f} {spread(r.values)}, direct "
        f"{statistics.median(r.direct):.0f} {spread(r.direct)} {unit})",
        target=">= 0.50" if target else "", met=r.median >= 0.5 if target else None,
        command=f"{command}; {len(r.per_round)} rounds interleaved (A B C D, D C B A, ...)",
    ))  # fmt: skip


def emit_cpu(paths: list[Path_], key: str, what: str, unit: str, command: str) -> None:
    """The relay processes' CPU per unit of work of one figure (less sensitive to the machine's
    load than the rates: it counts only while the relay ran)."""
    for p in paths:
        values = p.cpu.pop(key, [])
        if values:
            emit(Figure(
                NAME, f"{what}, {p.name} relay",
                f"{statistics.median(values):.1f} µs {unit} (user + system, both directions; "
                f"{spread(values, '{:.1f}')})",
                command="utime + stime of the relay process (/proc/PID/stat) over each " + command,
            ))  # fmt: skip


@dataclass(frozen=True)
class Throughput:
    """One throughput figure at ten connections: its ratio to direct, and the relays' CPU."""

    key: str  # where the relays' CPU goes in ``Path_.cpu``
    what: str
    unit: str
    command: str
    cpu_what: str
    cpu_unit: str
    cpu_command: str


def throughput(
    paths: list[Path_], rounds: int, fig: Throughput, run: Callable[[Path_], tuple[float, float]]
) -> None:
    """``run`` (a rate and the units of work it relayed) on every path, interleaved; the
    median of the per-round ratios to direct, and the relays' CPU per unit."""
    measured = interleaved(paths, rounds, lambda p: with_cpu(p, fig.key, lambda: run(p)))
    for r in ratios(measured, paths[0].name):
        emit_ratio(r, fig.what, fig.unit, fig.command)
    emit_cpu(paths, fig.key, fig.cpu_what, fig.cpu_unit, fig.cpu_command)


def latency(label: str, paths: list[Path_], pings: int) -> None:
    """1. added latency per hop at one connection: PING round trips in blocks of 50 per path."""
    direct = paths[0]
    pingers = [Pinger(p.redis) for p in paths]
    try:
        for _ in range(max(1, pings // 50)):
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


def condition(label: str, paths: list[Path_], args: argparse.Namespace, wrk_ok: bool) -> None:
    print(f"-- {label} (load average {load_average()}): paths {', '.join(p.name for p in paths)}")
    direct = paths[0]
    if "latency" in args.figure_set:
        latency(label, paths, args.pings)

    # 2. redis-benchmark -c 10 PING
    if "ping" in args.figure_set and shutil.which("redis-benchmark"):
        throughput(paths, args.rounds, Throughput(
            "ping", f"redis-benchmark -c 10 PING ({label})", "req/s",
            f"redis-benchmark -h 127.0.0.1 -p PORT -c 10 -n {args.requests} -t ping -q",
            f"CPU per relayed PING request ({label})", "per request",
            "redis-benchmark run, divided by its requests (PING_INLINE + PING_MBULK)",
        ), lambda p: redis_benchmark(p.redis[1], args.requests))  # fmt: skip
    elif "ping" in args.figure_set:
        print("  redis-benchmark: not installed, skipped")

    # 3. bulk bytes, ten connections
    if "bulk" in args.figure_set:
        throughput(paths, args.rounds, Throughput(
            "bulk", f"bulk bytes, 10 connections ({label})", "MB/s",
            f"10 reader threads recv_into 256 KiB for {args.seconds} s",
            f"CPU per relayed MB, bulk ({label})", "per MB",
            "bulk run, divided by the MB the readers drained",
        ), lambda p: bulk(p.bulk, args.seconds))  # fmt: skip

    # 4. HTTP route, wrk
    if "http" not in args.figure_set:
        return
    if not wrk_ok:
        print("  HTTP route: wrk not installed, skipped")
        return
    web = [p for p in paths if p.http is not None]
    lat = interleaved(web, args.rounds, lambda p: wrk(p.http or 0, 1, args.wrk_seconds)[1])
    rps = interleaved(web, args.rounds, lambda p: wrk(p.http or 0, 10, args.wrk_seconds)[0])
    md1 = statistics.median(lat[direct.name])
    for p in web[1:]:
        added = statistics.median(
            [x - d for x, d in zip(lat[p.name], lat[direct.name], strict=True)]
        )
        emit(Figure(
            NAME, f"HTTP route, added median latency, 1 connection, {p.name} ({label})",
            f"{added:+.0f} µs (median of the rounds' differences; direct {md1:.0f} µs "
            f"{spread(lat[direct.name])}, proxied {statistics.median(lat[p.name]):.0f} µs "
            f"{spread(lat[p.name])})",
            command=f"wrk -t1 -c1 -d{args.wrk_seconds}s --latency http://127.0.0.1:PORT/, "
            f"{args.rounds} rounds interleaved",
        ))  # fmt: skip
    for r in ratios(rps, direct.name):
        emit_ratio(
            r, f"HTTP route, wrk -c 10 ({label})", "req/s",
            f"wrk -t1 -c10 -d{args.wrk_seconds}s http://127.0.0.1:PORT/", target=False,
        )  # fmt: skip


def main() -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.proxy_overhead")
    ap.add_argument("--pings", type=int, default=5_000, help="pings per path and condition")
    ap.add_argument("--rounds", type=int, default=6, help="interleaved throughput rounds (>= 5)")
    ap.add_argument("--requests", type=int, default=100_000, help="redis-benchmark -n")
    ap.add_argument("--seconds", type=float, default=3.0, help="bulk transfer time per run")
    ap.add_argument("--wrk-seconds", type=int, default=3, help="wrk -d per run")
    ap.add_argument("--users", type=int, default=20, help="load users next to each proxy")
    ap.add_argument("--conditions", default="quiet,busy", help="quiet, busy (one core hogged)")
    ap.add_argument("--figures", default="latency,ping,bulk,http",
                    help="which figures: latency, ping, bulk, http")  # fmt: skip
    ap.add_argument(
        "--paths",
        default="process,embedded,socat",
        help="the relays measured beside direct (process, embedded, socat)",
    )
    ap.add_argument(
        "--compare",
        metavar="DIR",
        default="",
        help="also the process proxy of another checkout (e.g. main's), side by side",
    )
    args = ap.parse_args()
    args.figure_set = {x.strip() for x in args.figures.split(",") if x.strip()}
    if args.rounds < 5:
        ap.error("--rounds: at least 5 (the ratios are medians of per-round ratios)")
    # SIGTERM (and SIGINT, ignored in a background job) end the run through the cleanup below
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    print(f"python -m bench.proxy_overhead {' '.join(sys.argv[1:])}".rstrip())
    print(f"load average at start: {load_average()}; {os.cpu_count()} cores")

    procs: list[subprocess.Popen[Any]] = []

    def start(cmd: list[str], **kw: Any) -> subprocess.Popen[str]:
        kw = {"cwd": ROOT, "text": True, "preexec_fn": die_with_parent, **kw}
        proc: subprocess.Popen[str] = subprocess.Popen(cmd, **kw)
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
        wanted = {x.strip() for x in args.paths.split(",") if x.strip()}
        paths = [
            Path_("direct", REDIS, ("127.0.0.1", bulk_port), http_port),
            proxy_path("process", child.url, "127.0.0.1:6379", bulk_port, http_port, child.pid),
            proxy_path("embedded", f"http://{embedded_api}", "127.0.0.1:6379", bulk_port,
                       http_port, None),  # its process also runs the users: no CPU figure
        ]  # fmt: skip
        paths = [p for p in paths if p.name == "direct" or p.name in wanted]
        if args.compare:
            other = Path(args.compare).resolve()
            other_api = f"127.0.0.1:{free_port()}"
            proc = start([sys.executable, "-m", "chaosbench.proxy", "--api", other_api],
                         cwd=other, env={**os.environ, "PYTHONPATH": str(other)})  # fmt: skip
            wait_api(f"http://{other_api}", proc)
            name = f"process-{other.name}"
            paths.append(proxy_path(name, f"http://{other_api}", "127.0.0.1:6379", bulk_port,
                                    http_port, proc.pid))  # fmt: skip
            print(f"{name} proxy: cd {other} && PYTHONPATH={other} python -m chaosbench.proxy "
                  f"--api {other_api}")  # fmt: skip
        if "socat" in wanted and shutil.which("socat"):
            sr, redis_addr = socat(REDIS)
            sb, bulk_addr = socat(("127.0.0.1", bulk_port))
            procs += [sr, sb]
            paths.append(Path_("socat", redis_addr, bulk_addr, None, (sr.pid, sb.pid)))
        elif "socat" in wanted:
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
