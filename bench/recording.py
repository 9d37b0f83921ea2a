"""Cost of phase-tagged recording and InfluxDB streaming.

1. Recording cost per sample (in process): the request listener alone, and the whole path a
   sample takes (listener, window close with HDR histograms, windows.jsonl line, line protocol,
   spool append), in microseconds.
2. Throughput of ONE Locust process: the same closed-loop Redis users (no think time) with the
   harness off and with the harness on (recording, run directory, streaming to a real
   VictoriaMetrics started here on a free port), in the same run, alternating off/on/on/off...
   so that drift on a shared machine hits both sides. Prints requests/s and the ratio on/off.
3. Memory: RSS of a Locust process with the harness on at constant paced load after 1 minute
   and at the end (``--rss-minutes``, default 2; the issue's figure is ``--rss-minutes 10``).

    python -m bench.recording [--duration 15] [--pairs 2] [--users 10] [--rss-minutes 2]
                              [--skip-throughput] [--skip-rss]
"""

from __future__ import annotations

import argparse
import json
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VM_BIN = shutil.which("victoria-metrics") or "/usr/bin/victoria-metrics"

LOCUSTFILE = """
import os, time
import redis
from locust import User, constant, task
if os.environ["BENCH_HARNESS"] == "on":
    import chaosbench.harness  # noqa: F401

PREFIX = os.environ["BENCH_PREFIX"]
WAIT = float(os.environ.get("BENCH_WAIT", "0"))


class RedisGet(User):
    wait_time = constant(WAIT)

    def on_start(self):
        self.client = redis.Redis(host="127.0.0.1", port=6379, client_name=PREFIX)

    @task
    def get(self):
        start = time.time()
        t0 = time.perf_counter()
        exc = None
        try:
            self.client.get(PREFIX + ":k")
        except Exception as e:
            exc = e
        self.environment.events.request.fire(
            request_type="REDIS", name="GET", response_time=(time.perf_counter() - t0) * 1000,
            response_length=0, exception=exc, context={"deadline_ms": 5.0}, start_time=start,
        )
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


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
    print(
        f"recording cost per sample: listener {listener / samples * 1e6:.2f} us; "
        f"whole path (windows, HDR, run dir, line protocol, spool) {full / samples * 1e6:.2f} us "
        f"({samples} samples, {keys} keys, {samples // seconds}/s)"
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
        locustfile.write_text(LOCUSTFILE)
        tag = uuid.uuid4().hex[:8]
        self.duration = duration
        self.stats = tmp / f"stats-{tag}"
        args = [sys.executable, "-m", "locust", "-f", str(locustfile), "--headless",
                "--only-summary", "-u", str(users), "-r", str(users), "-t", f"{int(duration)}s",
                "--json-file", str(self.stats), "--loglevel", "WARNING"]  # fmt: skip
        if harness:
            args += ["--chaos-profile", "none", "--results-dir", str(tmp / "runs"),
                     "--run-id", tag, "--sut-pg-dsn", "none"]  # fmt: skip
            if vm is not None:
                args += ["--influx-url", vm.url, "--influx-org", "o", "--influx-bucket", "b"]
        env = {"BENCH_HARNESS": "on" if harness else "off", "BENCH_PREFIX": f"cbbench_{tag}",
               "BENCH_WAIT": str(wait), "INFLUX_TOKEN": "bench", "PATH": "/usr/bin:/bin",
               "PYTHONPATH": str(ROOT)}  # fmt: skip
        self.proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)  # fmt: skip
        self.started = time.monotonic()

    def rss_at(self, offset: float) -> int:
        while time.monotonic() - self.started < offset and self.proc.poll() is None:
            time.sleep(0.5)
        return _rss_kb(self.proc.pid)

    def result(self) -> float:
        """Requests/s over the time requests were made."""
        _, err = self.proc.communicate(timeout=self.duration + 120)
        path = Path(f"{self.stats}.json")
        if not path.exists():
            raise RuntimeError(f"locust failed ({self.proc.returncode}): {err.decode()[-2000:]}")
        data = json.loads(path.read_text())
        total = sum(e["num_requests"] for e in data)
        first = min(e["start_time"] for e in data)
        last = max(e["last_request_timestamp"] or first for e in data)
        if total == 0:
            raise RuntimeError(f"locust made no request: {err.decode()[-2000:]}")
        return total / max(last - first, 1e-9)


def _rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def throughput(duration: float, pairs: int, users: int) -> None:
    """Harness off and on side by side (two processes at once, so that whatever else loads
    this machine loads both), ``pairs`` times; the ratio is per pair, then the median."""
    ratios: list[float] = []
    with tempfile.TemporaryDirectory() as t:
        tmp = Path(t)
        vm = Victoria(tmp)
        try:
            for i in range(pairs):
                first = i % 2 == 0
                runs = {h: LocustRun(tmp, h, users, duration, vm) for h in (first, not first)}
                off, on = runs[False].result(), runs[True].result()
                ratios.append(on / off)
                print(
                    f"  pair {i + 1}: off {off:7.0f} req/s, on {on:7.0f} req/s, "
                    f"{on / off * 100:5.1f} %",
                    flush=True,
                )
        finally:
            vm.stop()
    print(
        f"throughput, one Locust process, {users} closed-loop Redis users, harness on "
        f"(recording + run dir + streaming) vs off, side by side in the same run: "
        f"{statistics.median(ratios) * 100:.1f} % (median of {pairs} pairs; "
        f"min {min(ratios) * 100:.1f} %, max {max(ratios) * 100:.1f} %)"
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
    print(
        f"memory, harness on, {rate:.0f} req/s paced: RSS after 1 min {rss[0] / 1024:.1f} MB, "
        f"after {minutes:g} min {rss[1] / 1024:.1f} MB (ratio {rss[1] / max(rss[0], 1):.2f})"
    )


def main() -> int:
    p = argparse.ArgumentParser(prog="python -m bench.recording")
    p.add_argument("--duration", type=float, default=15.0)
    p.add_argument("--pairs", type=int, default=4)
    p.add_argument("--users", type=int, default=10)
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
    sys.exit(main())
