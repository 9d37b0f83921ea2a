"""Users per process: how many FeedUsers and ApiUsers one Locust process holds with the event
loop's lag p99 under 50 ms, and where the time goes at the largest step.

    python -m bench.scale                       # both kinds, the default steps
    python -m bench.scale --kinds feed --feed-steps 500,1000,2000 --quote-rate 5 --profile

One Locust process (the harness on, ``--chaos-profile none``), users added step by step by the
shape in bench/locustfiles/scale.py; at each step, once all its users run and a few seconds
passed, it measures for ``--hold`` seconds: the loop-lag p50/p99/max (chaosbench.users.looplag,
a greenlet asking to wake every 5 ms), WebSocket messages/s or HTTP requests/s received, the
Locust process's CPU % (user + system over wall time) and the load average.

- FeedUsers subscribe to the reference system's feed (``python -m chaosbench.sut``, started here
  with ``--quote-rate`` quotes/s, no rate limit). Every subscriber gets every quote, so the feed
  sends users x quote rate messages/s; the figures say how much of that arrived and the feed's
  own CPU %, so that a feed at its ceiling is not taken for the users' ceiling.
- ApiUsers GET a static page of a plain nginx (one worker, 20 000 connections), about one
  request per user per second (``--api-think 0.5,1.5``, the think time's range in seconds);
  ``--api-think 1.5,2.5`` asks half of that. What one process can take is a request rate (the
  CPU per request, Locust's FastHttpSession and geventhttpclient's, is ~200 µs): the users it
  holds are that rate over what each user asks.

The ceiling of a kind is the largest step with p99 < 50 ms and every smaller step too (goals:
2 000 FeedUsers, 5 000 ApiUsers). ``--profile`` samples the Locust process at each kind's
largest step with py-spy (``pip install py-spy``; non-blocking, out of process) and prints the
functions with the most samples. On a shared machine the lag measures the machine's queue as
much as the users: the CPU time per sample (``µs per msg``/``per req``) does not, since it
counts only while the process ran. Loopback only; every run is bounded (``--ramp-max`` per
step, a time limit on each process); the file-descriptor limit is raised for the servers and
Locust.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from bench import outside
from bench._figures import Figure, emit, load_average
from bench.noise import die_with_parent, stop_children
from bench.outside import ensure_nginx, free_port, port_open

ROOT = Path(__file__).resolve().parent.parent
LOCUSTFILE = "bench/locustfiles/scale.py"
PG_DSN = os.environ.get("CHAOSBENCH_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("CHAOSBENCH_TEST_REDIS", "redis://127.0.0.1:6379/0")
LAG_TARGET_MS = 50.0


@dataclass(frozen=True)
class Kind:
    name: str  # feed | api
    user_class: str
    label: str  # FeedUsers | ApiUsers
    unit: str  # msg/s | req/s
    goal: int


KINDS = {
    "feed": Kind("feed", "ScaleFeedUser", "FeedUsers", "msg/s", 2000),
    "api": Kind("api", "ScaleApiUser", "ApiUsers", "req/s", 5000),
}

#: bench.outside's nginx, with room for thousands of keep-alive connections
NGINX_CONF = outside.NGINX_CONF.replace(
    "worker_processes 1;\n", "worker_processes 1;\nworker_rlimit_nofile 65536;\n"
).replace("worker_connections 512;", "worker_connections 20000;")


@dataclass(frozen=True)
class StepResult:
    users: int
    running: int
    seconds: float
    lag_p50_ms: float
    lag_p99_ms: float
    lag_max_ms: float
    lag_samples: int
    rate: float
    failures: float
    cpu_pct: float
    load: str
    reached: bool
    runq_wait_pct: float = -1.0  # the loop's thread waiting for a CPU, % of wall time (-1: n/a)
    server_cpu_pct: float | None = None  # the feed's (or nginx's) CPU % over the step
    gc_ms: float = 0.0  # the garbage collector's pauses in the step, ms in all
    gc_max_ms: float = 0.0
    gc_full: int = 0  # full collections

    @property
    def met(self) -> bool:
        return self.reached and self.lag_p99_ms < LAG_TARGET_MS

    @property
    def cpu_us(self) -> float:
        """Locust's CPU time per message or request, µs (what a sample costs, however starved
        the process was of CPU)."""
        return 1e4 * self.cpu_pct / self.rate if self.rate else float("nan")


def wait_port(port: int, proc: subprocess.Popen[bytes], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}")
        if port_open(port):
            return
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not listen on 127.0.0.1:{port} within {timeout:.0f} s")


def raise_nofile(wanted: int = 65536) -> int:
    """Raise this process's open-file limit (children inherit it); the limit now in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
    if soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError):
            return soft
        return target
    return soft


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of ``pid`` and its children (nginx's worker), from /proc;
    None when it cannot be read."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except (OSError, IndexError):
        return None
    own = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return own + sum(cpu_seconds(int(c)) or 0.0 for c in children)


def _spawn(
    args: list[str], log: Path, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        args,
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        env={**os.environ, **(env or {})},
        preexec_fn=die_with_parent,
    )


def start_sut(tmp: Path, quote_rate: float, tag: str) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    args = [
        sys.executable, "-m", "chaosbench.sut", "--port", str(port), "--pg-dsn", PG_DSN,
        "--pg-schema", f"{tag}_sut", "--redis-url", REDIS_URL, "--redis-prefix", f"{tag}:sut:",
        "--pg-application-name", tag, "--rate-limit", "0", "--quote-rate", str(quote_rate),
    ]  # fmt: skip
    proc = _spawn(args, tmp / "sut.log")
    wait_port(port, proc, "the reference system")
    return proc, f"http://127.0.0.1:{port}"


def start_nginx(tmp: Path) -> tuple[subprocess.Popen[bytes], str]:
    nginx = ensure_nginx()
    prefix = tmp / "nginx"
    prefix.mkdir()
    port = free_port()
    conf = prefix / "nginx.conf"
    conf.write_text(NGINX_CONF.format(prefix=prefix, port=port))
    proc = _spawn([nginx, "-p", str(prefix), "-c", str(conf)], tmp / "nginx.log")
    wait_port(port, proc, "nginx")
    return proc, f"http://127.0.0.1:{port}"


def locust_command(kind: Kind, host: str, results: Path) -> list[str]:
    return [
        sys.executable, "-m", "locust", "-f", LOCUSTFILE, "--headless", "--only-summary",
        "--host", host, "--chaos-profile", "none", "--results-dir", str(results),
        "--sut-pg-dsn", "none", kind.user_class,
    ]  # fmt: skip


@dataclass
class Profiler:
    """py-spy on the Locust process for one step (its raw, collapsed stacks)."""

    proc: subprocess.Popen[bytes] | None = None
    out: Path | None = None

    def start(self, pid: int, seconds: float, out: Path) -> bool:
        spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
        if not Path(spy).exists():
            print("bench.scale: --profile needs py-spy (pip install py-spy)", file=sys.stderr)
            return False
        self.out = out
        args = [
            spy, "record", "--pid", str(pid), "--duration", str(max(1, int(seconds))),
            "--rate", "100", "--nonblocking", "--format", "raw", "--output", str(out),
        ]  # fmt: skip
        self.proc = subprocess.Popen(
            args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, preexec_fn=die_with_parent
        )
        return True

    def finish(self, timeout: float = 30.0) -> Path | None:
        if self.proc is None:
            return None
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            stop_children([self.proc])
        return self.out if self.out is not None and self.out.exists() else None


def top_frames(raw: Path, n: int = 12) -> tuple[list[tuple[float, str]], list[tuple[float, str]]]:
    """From py-spy's raw output: the functions with the most samples on top of the stack
    (self) and anywhere in it (total), as (share %, "function (file)")."""
    own: Counter[str] = Counter()
    total: Counter[str] = Counter()
    samples = 0
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [_frame(f) for f in stack.split(";") if f]
        if not frames:
            continue
        samples += count
        own[frames[-1]] += count
        for f in set(frames):
            total[f] += count
    if not samples:
        return [], []

    def share(c: Counter[str]) -> list[tuple[float, str]]:
        return [(100.0 * v / samples, k) for k, v in c.most_common(n)]

    return share(own), share(total)


def _frame(text: str) -> str:
    """ "func (path/to/file.py:123)" -> "func (file.py)"; the line number dropped."""
    name, _, where = text.partition(" (")
    where = where.rstrip(")").rsplit(":", 1)[0]
    return f"{name} ({'/'.join(Path(where).parts[-2:])})" if where else name


def run_kind(
    kind: Kind,
    host: str,
    steps: list[int],
    args: argparse.Namespace,
    tmp: Path,
    server_pid: int,
    tag: str = "",
) -> tuple[list[StepResult], Path | None]:
    """One Locust process through every step of ``kind``; the steps measured, and the profile."""
    tag = tag or kind.name
    out = tmp / f"{tag}-steps.jsonl"
    env = {
        "SCALE_STEPS": ",".join(str(s) for s in steps),
        "SCALE_HOLD": str(args.hold),
        "SCALE_SETTLE": str(args.settle),
        "SCALE_SPAWN_RATE": str(args.spawn_rate),
        "SCALE_RAMP_MAX": str(args.ramp_max),
        "SCALE_OUT": str(out),
        "SCALE_API_THINK": args.api_think,
        "PYTHONUNBUFFERED": "1",
    }
    cmd = locust_command(kind, host, tmp / f"{tag}-runs")
    print("$ " + " ".join(f"{k}={v}" for k, v in env.items() if k != "PYTHONUNBUFFERED"), end=" ")
    print(" ".join(cmd[1:] if cmd[0] == sys.executable else cmd), flush=True)
    proc = _spawn(cmd, tmp / f"{tag}-locust.log", env)
    limit = time.monotonic() + len(steps) * (args.ramp_max + args.settle + args.hold + 15) + 90
    seen = 0
    server_cpu0: float | None = None
    profiler = Profiler()
    results: list[StepResult] = []
    try:
        while time.monotonic() < limit:
            lines = out.read_text().splitlines() if out.exists() else []
            for line in lines[seen:]:
                rec = json.loads(line)
                if rec["event"] == "measure":
                    server_cpu0 = cpu_seconds(server_pid)
                    if args.profile and rec["users"] == steps[-1]:
                        # not the last seconds: the step after, or the stop, would be in it
                        seconds = max(1.0, args.hold - 2)
                        profiler.start(int(rec["pid"]), seconds, tmp / f"{tag}.pyspy")
                else:
                    rec.pop("event")
                    cpu1 = cpu_seconds(server_pid)
                    server = None
                    if server_cpu0 is not None and cpu1 is not None:
                        server = round(100.0 * (cpu1 - server_cpu0) / rec["seconds"], 1)
                    results.append(StepResult(**rec, server_cpu_pct=server))
                    print_step(kind, results[-1], args.quote_rate)
            seen = len(lines)
            if proc.poll() is not None:
                break
            time.sleep(0.2)
        else:
            print(f"bench.scale: {kind.label}: time limit reached, stopping Locust", flush=True)
    finally:
        stop_children([proc])
    return results, profiler.finish()


def print_step(kind: Kind, s: StepResult, quote_rate: float) -> None:
    extra = ""
    if kind.name == "feed":
        sent = s.running * quote_rate
        extra = (
            f", {100.0 * s.rate / sent:.0f} % of the {sent:.0f} msg/s the feed owes" if sent else ""
        )
    server = "feed" if kind.name == "feed" else "nginx"
    print(
        f"  {kind.label} {s.users:>5} (running {s.running}): loop lag p50 {s.lag_p50_ms:.1f} ms, "
        f"p99 {s.lag_p99_ms:.1f} ms, max {s.lag_max_ms:.1f} ms; {s.rate:.0f} {kind.unit}{extra}; "
        f"failures {s.failures:.1f}/s; CPU {s.cpu_pct:.0f} % (Locust, {s.cpu_us:.0f} µs per "
        f"{kind.unit.split('/')[0]}), "
        f"{s.server_cpu_pct if s.server_cpu_pct is not None else '?'} % ({server}); "
        f"waiting for a CPU {s.runq_wait_pct:.0f} % of the time; "
        f"GC {s.gc_ms:.0f} ms ({s.gc_full} full, longest {s.gc_max_ms:.0f} ms); "
        f"load {s.load}{'' if s.reached else '; NOT all users started'}",
        flush=True,
    )


def who(kind: Kind, args: argparse.Namespace) -> str:
    """The figures' name for the kind's users: ApiUsers with what each asks (their think time's
    mean), FeedUsers with the feed's quote rate."""
    if kind.name == "api":
        low, high = args.think
        return f"{kind.label} (about {2 / (low + high):.2g} req/s each)"
    return f"{kind.label} ({args.quote_rate:g} msg/s each)"


def report(
    kind: Kind, label: str, results: list[StepResult], profile: Path | None, command: str
) -> None:
    for s in results:
        emit(
            Figure(
                bench="scale",
                name=f"{label} in one process, {s.users}: loop lag p99",
                value=f"{s.lag_p99_ms:.1f} ms ({s.rate:.0f} {kind.unit}, CPU {s.cpu_pct:.0f} %, "
                f"waiting for a CPU {s.runq_wait_pct:.0f} %, "
                f"longest GC pause {s.gc_max_ms:.0f} ms)",
                target=f"< {LAG_TARGET_MS:.0f} ms",
                met=s.met,
                load=s.load,
                command=command,
                note="" if s.reached else "not all users started",
            )
        )
    ceiling = 0  # the last of the passing steps from the first on (a pass after a miss is luck)
    for s in results:
        if not s.met:
            break
        ceiling = s.users
    emit(
        Figure(
            bench="scale",
            name=f"{label} per process at loop lag p99 < {LAG_TARGET_MS:.0f} ms",
            value=f"{ceiling} (the last step passed with every smaller one, of "
            f"{', '.join(str(s.users) + ('' if s.met else ' missed') for s in results)})",
            target=f">= {kind.goal}",
            met=ceiling >= kind.goal,
            command=command,
        )
    )
    measured = [s for s in results if s.rate > 0 and s.running > 0 and s.cpu_pct > 0]
    if measured:
        # what one user asks for (the smallest step, where everything it asked for arrived), at
        # the CPU a sample costs (the median over the steps)
        per_user = measured[0].rate / measured[0].running
        cpu_us = statistics.median(s.cpu_us for s in measured)
        per_core = 1e6 / (cpu_us * per_user)
        unit = kind.unit.split("/")[0]
        emit(
            Figure(
                bench="scale",
                name=f"{label}: Locust CPU per {unit}, and the users that fill one core",
                value=f"{cpu_us:.0f} µs per {unit} x {per_user:.1f} {kind.unit} per user: "
                f"{per_core:.0f} users",
                load=measured[-1].load,
                command=command,
                note="CPU time counts only while the process ran: a starved process costs "
                "the same per sample",
            )
        )
    if profile is None:
        return
    own, total = top_frames(profile)
    print(f"  py-spy, {kind.label} {results[-1].users if results else '?'}: most samples on top")
    for pct, frame in own:
        print(f"    {pct:5.1f} %  {frame}")
    print("  ... and anywhere in the stack:")
    for pct, frame in total:
        print(f"    {pct:5.1f} %  {frame}")


def _steps(text: str, where: str) -> list[int]:
    try:
        steps = [int(s) for s in text.split(",") if s.strip()]
    except ValueError:
        raise SystemExit(f"bench.scale: {where} {text!r}: comma-separated user counts") from None
    if not steps or any(s <= 0 for s in steps) or steps != sorted(steps):
        raise SystemExit(f"bench.scale: {where} {text!r}: ascending positive user counts")
    return steps


def parse(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m bench.scale", description=__doc__.split("\n")[0])
    p.add_argument("--kinds", default="feed,api", help="feed, api or both (default feed,api)")
    p.add_argument("--feed-steps", default="500,1000,2000,3000")
    p.add_argument("--api-steps", default="500,1000,2000,3000,5000")
    p.add_argument("--hold", type=float, default=8.0, help="seconds measured per step")
    p.add_argument("--settle", type=float, default=3.0, help="seconds after a step's ramp")
    p.add_argument("--spawn-rate", type=float, default=250.0, help="users started per second")
    p.add_argument("--ramp-max", type=float, default=90.0, help="seconds a step may ramp")
    p.add_argument("--quote-rate", type=float, default=5.0, help="the feed's quotes/s")
    p.add_argument("--api-think", default="0.5,1.5", help="ApiUsers' think time: min,max s")
    p.add_argument("--profile", action="store_true", help="py-spy at each kind's largest step")
    args = p.parse_args(argv)
    try:
        low, high = (float(x) for x in args.api_think.split(","))
    except ValueError:
        raise SystemExit(f"bench.scale: --api-think {args.api_think!r}: min,max seconds") from None
    if not 0 < low <= high:
        raise SystemExit(f"bench.scale: --api-think {args.api_think!r}: 0 < min <= max")
    args.think = (low, high)
    args.kind_list = [k.strip() for k in args.kinds.split(",") if k.strip()]
    bad = [k for k in args.kind_list if k not in KINDS]
    if bad or not args.kind_list:
        raise SystemExit(f"bench.scale: --kinds {args.kinds!r}: feed and/or api")
    args.steps = {"feed": _steps(args.feed_steps, "--feed-steps"),
                  "api": _steps(args.api_steps, "--api-steps")}  # fmt: skip
    return args


def main(argv: list[str]) -> int:
    args = parse(argv)
    nofile = raise_nofile()
    print(
        f"bench.scale: open files limit {nofile}; load {load_average()}; {os.cpu_count()} CPUs",
        flush=True,
    )
    command = "python -m bench.scale " + " ".join(argv)
    tag = f"cbscale_{uuid.uuid4().hex[:8]}"
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmpdir:
        tmp = Path(tmpdir)
        for name in args.kind_list:
            kind = KINDS[name]
            if name == "feed":
                server, host = start_sut(tmp, args.quote_rate, tag)
            else:
                server, host = start_nginx(tmp)
            try:
                results, profile = run_kind(kind, host, args.steps[name], args, tmp, server.pid)
                report(kind, who(kind, args), results, profile, command.strip())
            finally:
                stop_children([server])
        _drop(tag)
    return 0


def _drop(tag: str) -> None:
    """The reference system's schema and keys (it made them for this bench only)."""
    import psycopg
    import redis

    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{tag}_sut" CASCADE')
    r = redis.Redis.from_url(REDIS_URL)
    keys = list(r.scan_iter(match=f"{tag}:*", count=1000))
    for i in range(0, len(keys), 500):
        r.delete(*keys[i : i + 500])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
