"""Cost of phase-tagged recording, InfluxDB streaming and the rest of the harness.

1. Recording cost per sample (in process): the request listener alone, and the whole path a
   sample takes (listener, window close with HDR histograms, windows.jsonl line, line protocol,
   spool append), in microseconds.
2. Throughput of ONE Locust process with the same users, chaosbench's ``RedisUser`` (closed
   loop, GET of one key, no think time, straight to Redis database 5): bare Locust (only the
   load options wired, so the users run) vs the harness on with a real profile (scheduler,
   fault proxy with its route, recording, run directory, streaming to a real VictoriaMetrics
   started here) measured between bursts: the profile's first burst (a latency fault on the
   idle Redis route) comes after the measured time. The runs alternate off on on off ... one
   after another (``--pairs`` pairs), so that drift on a shared machine hits both sides;
   each run counts from 3 s after its start (steady rate), the ratio is per pair, then the
   median.
3. Memory: RSS of a Locust process with the harness on at constant paced load after 1 minute
   and at the end (``--rss-minutes``, default 2; the issue's figure is ``--rss-minutes 10``).

    python -m bench.recording [--duration 10] [--pairs 3] [--users 16] [--rss-minutes 2]
                              [--skip-throughput] [--skip-rss]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

import bench._figures as figures
from bench._figures import Figure, emit, load_average
from bench.outside import Phases, free_port, profile_text

ROOT = Path(__file__).resolve().parent.parent
VM_BIN = shutil.which("victoria-metrics") or "/usr/bin/victoria-metrics"

LOCUSTFILE = """
import os
from locust import events, task
if os.environ["BENCH_HARNESS"] == "on":
    import chaosbench.harness  # noqa: F401
else:
    import chaosbench.users.options
    chaosbench.users.options.install(events)
from chaosbench.users import RedisUser

WAIT = float(os.environ.get("BENCH_WAIT", "0"))


class RedisGet(RedisUser):
    think_time = (WAIT, WAIT)
    client_name = "bench_users"

    @task
    def get(self):
        self.call("GET", lambda r: r.get(self.key("k")))
"""

REDIS_URL = "redis://127.0.0.1:6379/5"
PREFIX = "bench_users:rec:"


# -- 1. cost per sample ---------------------------------------------------------------------


def cost_per_sample(samples: int = 200_000, keys: int = 8, seconds: int = 20) -> None:
    from chaosbench.analysis.influx.config import InfluxConfig
    from chaosbench.analysis.influx.spool import Spool
    from chaosbench.analysis.influx.streamer import InfluxStreamer
    from chaosbench.analysis.recording import Recorder
    from chaosbench.analysis.rundir import RunDirWriter
    from chaosbench.analysis.rundir.record import RunRecord
    from chaosbench.ground.timeline import Phase, PhaseMark, PhaseTimeline

    t0 = 1_800_000_000.0
    tl = PhaseTimeline()
    tl.append(PhaseMark(t0, Phase.BASELINE))
    tl.append(PhaseMark(t0 + seconds / 2, Phase.BURST, 1, ("f",)))
    names = [f"/k{i}" for i in range(keys)]
    ctx = {"deadline_ms": 5.0}
    args = [
        (names[i % keys], 0.5 + (i % 97) / 10, t0 + i * seconds / samples) for i in range(samples)
    ]

    rec = Recorder(tl)
    rec.active = True
    on_request = rec.on_request
    start = time.perf_counter()
    for name, rt, st in args:
        on_request("HTTP", name, rt, 0, None, ctx, st)
    listener = time.perf_counter() - start
    for w in rec.close_all():
        w.release()

    with tempfile.TemporaryDirectory() as tmp:
        writer = RunDirWriter(Path(tmp) / "run")
        writer.create()
        writer.start(RunRecord("bench", t0))
        cfg = InfluxConfig.build("http://127.0.0.1:9", "o", "b", "t")
        assert cfg is not None
        streamer = InfluxStreamer(cfg, Spool(Path(tmp) / "run" / "spool"), "bench")  # not started
        rec = Recorder(tl)
        rec.active = True
        on_request = rec.on_request
        per_second = samples // seconds
        start = time.perf_counter()
        for i, (name, rt, st) in enumerate(args):
            on_request("HTTP", name, rt, 0, None, ctx, st)
            if i % per_second == per_second - 1:
                closed = rec.close_due(now=st)
                writer.append_windows(closed)
                streamer.submit_windows(closed)
                for w in closed:
                    w.release()
        closed = rec.close_all()
        writer.append_windows(closed)
        streamer.submit_windows(closed)
        full = time.perf_counter() - start
        writer.close()
        streamer.spool.close()
    shape = f"{samples} samples, {keys} keys, {samples // seconds}/s"
    emit(
        Figure(
            "recording",
            "recording cost per sample: the request listener",
            f"{listener / samples * 1e6:.2f} µs",
            command="python -m bench.recording",
            note=shape,
        )
    )
    emit(
        Figure(
            "recording",
            "recording cost per sample: whole path (windows, HDR, run dir, line protocol, spool)",
            f"{full / samples * 1e6:.2f} µs",
            command="python -m bench.recording",
            note=shape,
        )
    )


# -- 2. throughput --------------------------------------------------------------------------


class Victoria:
    def __init__(self, tmp: Path) -> None:
        self.port = free_port()
        self.proc = subprocess.Popen(
            [VM_BIN, f"-httpListenAddr=127.0.0.1:{self.port}", f"-storageDataPath={tmp / 'vm'}",
             "-loggerLevel=ERROR"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"{self.url}/health", timeout=1):
                    return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("victoria-metrics did not start")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(20)


class LocustRun:
    """One headless Locust process (started at once; ``result()`` waits for it)."""

    def __init__(
        self,
        tmp: Path,
        harness: bool,
        users: int,
        duration: float,
        vm: Victoria | None,
        wait: float = 0.0,
    ) -> None:
        locustfile = tmp / "bench_locustfile.py"
        locustfile.write_text(LOCUSTFILE + figures.STEADY_LISTENER)
        tag = uuid.uuid4().hex[:8]
        self.duration = duration
        self.stats = tmp / f"stats-{tag}"
        self.steady = tmp / f"steady-{tag}.json"
        args = [sys.executable, "-m", "locust", "-f", str(locustfile), "--headless",
                "--only-summary", "-u", str(users), "-r", str(users), "-t", f"{int(duration)}s",
                "--json-file", str(self.stats), "--loglevel", "WARNING",
                "--redis-url", REDIS_URL, "--redis-prefix", PREFIX]  # fmt: skip
        if harness:
            profile = tmp / f"profile-{tag}.yaml"
            # the first burst starts after the measured time: scheduler and route idle
            phases = Phases(warmup=2, baseline=int(duration) + 30, burst_on=5, burst_off=5,
                            bursts=1, cooldown=2)  # fmt: skip
            profile.write_text(profile_text(free_port(), 50, 7, phases))
            args += ["--chaos-profile", str(profile), "--chaos-proxy-api",
                     f"127.0.0.1:{free_port()}", "--results-dir", str(tmp / "runs"),
                     "--run-id", tag, "--sut-pg-dsn", "none"]  # fmt: skip
            if vm is not None:
                args += ["--influx-url", vm.url, "--influx-org", "o", "--influx-bucket", "b"]
        self.command = " ".join(args).replace(sys.executable, "python") + " RedisGet"
        env = {"BENCH_HARNESS": "on" if harness else "off", "BENCH_WAIT": str(wait),
               "BENCH_STEADY": str(self.steady), "BENCH_NAME": "GET", "BENCH_WARMUP": "3",
               "INFLUX_TOKEN": "bench", "PATH": "/usr/bin:/bin",
               "PYTHONPATH": str(ROOT)}  # fmt: skip
        self.proc = subprocess.Popen([*args, "RedisGet"], cwd=ROOT, env=env,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
        self.started = time.monotonic()

    def rss_at(self, offset: float) -> int:
        while time.monotonic() - self.started < offset and self.proc.poll() is None:
            time.sleep(0.5)
        return _rss_kb(self.proc.pid)

    def result(self) -> float:
        """Requests/s of GET from 3 s after the start (the spawn and the harness's start are not
        the steady rate) until the test starts stopping; no GET may have failed."""
        _, err = self.proc.communicate(timeout=self.duration + 120)
        stats = Path(f"{self.stats}.json")
        return figures.locust_steady_rate(stats, self.steady, "GET", "RedisGet", err.decode())


def _rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def throughput(duration: float, pairs: int, users: int) -> None:
    """Harness off and on, one run after the other (off on, on off, ...), ``pairs`` times; the
    ratio is per pair, then the median."""
    ratios: list[float] = []
    loads: list[str] = []
    commands: dict[bool, str] = {}
    with tempfile.TemporaryDirectory() as t:
        tmp = Path(t)
        vm = Victoria(tmp)
        try:
            for i in range(pairs):
                order = (False, True) if i % 2 == 0 else (True, False)
                rate = {}
                for harness in order:
                    run = LocustRun(tmp, harness, users, duration, vm)
                    commands[harness] = run.command
                    rate[harness] = run.result()
                off, on = rate[False], rate[True]
                ratios.append(on / off)
                loads.append(load_average())
                print(
                    f"  pair {i + 1}: off {off:7.0f} req/s, on {on:7.0f} req/s, "
                    f"{on / off * 100:5.1f} % (load {loads[-1]})",
                    flush=True,
                )
        finally:
            vm.stop()
    for harness, command in commands.items():
        print(f"  {'on ' if harness else 'off'}: {command}")
    ratio = statistics.median(ratios)
    emit(
        Figure(
            "recording",
            f"harness on (profile idle between bursts, recording, streaming) / bare Locust, "
            f"{users} RedisUsers",
            f"{ratio * 100:.1f} % (min {min(ratios) * 100:.1f}, max {max(ratios) * 100:.1f})",
            "≥ 95 %",
            ratio >= 0.95,
            command=" ; ".join(commands.values()),
            note=f"median of {pairs} alternating pairs; loads {'; '.join(loads)}",
        )
    )


def memory(minutes: float, users: int) -> None:
    with tempfile.TemporaryDirectory() as t:
        tmp = Path(t)
        vm = Victoria(tmp)
        try:
            duration = minutes * 60
            run = LocustRun(tmp, True, users, duration, vm, wait=0.01)
            rss = [run.rss_at(60.0), run.rss_at(duration - 2)]
            rate = run.result()
        finally:
            vm.stop()
    emit(
        Figure(
            "recording",
            f"RSS, harness on, {rate:.0f} req/s paced: after 1 min / after {minutes:g} min",
            f"{rss[0] / 1024:.1f} MB / {rss[1] / 1024:.1f} MB (ratio "
            f"{rss[1] / max(rss[0], 1):.2f})",
            command=f"python -m bench.recording --rss-minutes {minutes:g}",
        )
    )


def main() -> int:
    p = argparse.ArgumentParser(prog="python -m bench.recording")
    p.add_argument("--duration", type=float, default=10.0)
    p.add_argument("--pairs", type=int, default=3)
    p.add_argument("--users", type=int, default=16)
    p.add_argument("--rss-minutes", type=float, default=2.0)
    p.add_argument("--skip-throughput", action="store_true")
    p.add_argument("--skip-rss", action="store_true")
    a = p.parse_args()
    sys.path.insert(0, str(ROOT))
    cost_per_sample()
    if not a.skip_throughput:
        throughput(a.duration, a.pairs, a.users)
    if not a.skip_rss:
        memory(a.rss_minutes, 20)
    return 0


if __name__ == "__main__":
    sys.exit(figures.run_bench("recording", main))
