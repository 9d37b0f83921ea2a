"""Cost of phase-tagged recording, InfluxDB streaming and the rest of the harness.

1. Recording cost per sample (in process, CPU time of the thread): the request listener alone,
   and the whole path a sample takes (listener, window close with HDR histograms, windows.jsonl
   line, line protocol, spool append), in microseconds, on log-normal response times.
2. Throughput of ONE Locust process with the same users, chaosbench's ``RedisUser`` (closed
   loop, GET of one key, no think time, straight to Redis database 5, keys under
   ``bench_rec:``): bare Locust (only the load options wired, so the users run) vs the harness
   on with a real profile (scheduler, fault proxy in its own process with its route,
   recording, run directory, streaming to a real VictoriaMetrics started here) measured
   between bursts: the profile's first burst (a latency fault on the idle Redis route) comes
   after the measured time. The users do not go through the route: it is idle, as a route is
   between bursts (the proxy process takes no CPU meanwhile). Each run is stopped from its
   locustfile as ``-t`` would (the harness refuses a ``-t`` shorter than its profile).
   ``--variants`` adds harness-on variants with one part left out (``no-influx``,
   ``no-route``, ``embedded``, ``no-chaos``) and two diagnostic bare ones (a native thread
   waking 5 or 50 times a second). The runs of a round go one after another, the order
   reversed every other round (A B C, C B A, ...), ``--pairs`` rounds; each run counts from
   3 s after its start (steady rate), the ratio to bare is per round, then the median. With
   ``--together`` a round's runs go side by side instead, started at once and stopped at one
   moment once all of them measure, compared over the window they share: the machine's other
   load then hits them alike. Each run also prints the Locust process's CPU per request (its
   CPU time over the steady window / requests), the proxy's and VictoriaMetrics' CPU, and
   the garbage collector's time.
3. Memory: RSS of a Locust process with the harness on at constant paced load after 1 minute
   and at the end (``--rss-minutes``, default 2; the issue's figure is ``--rss-minutes 10``).

    python -m bench.recording [--duration 10] [--pairs 3] [--users 16] [--rss-minutes 2]
                              [--variants bare,on,...] [--together]
                              [--skip-cost] [--skip-throughput] [--skip-rss]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path

import bench._figures as figures
from bench._figures import Figure, emit, load_average
from bench.outside import Phases, free_port, phases_text, profile_text

ROOT = Path(__file__).resolve().parent.parent
VM_BIN = shutil.which("victoria-metrics") or "/usr/bin/victoria-metrics"

LOCUSTFILE = """
import os
from locust import events, task
if os.environ["BENCH_HARNESS"] == "on":
    import chaosbench.harness  # noqa: F401
    if os.environ.get("BENCH_STREAMER") == "greenlet":  # diagnostic: the sender on the loop
        import gevent
        import chaosbench.analysis.influx.streamer as _st
        _st._start_thread = lambda f, args: gevent.spawn(f, *args)
        _st._os_sleep = gevent.sleep
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


# the CPU time of this process (all its threads) over the same window as the steady rate,
# and the time the cyclic garbage collector took meanwhile (per generation: runs, seconds)
import gc as _gc, json as _cj, time as _ct
import gevent as _cg

_cpu = []
_series = []
_gc_runs = [[0, 0.0], [0, 0.0], [0, 0.0]]
_gc_t = [0.0]


def _gc_cb(phase, info):
    if phase == "start":
        _gc_t[0] = _ct.perf_counter()
    elif _cpu:
        g = _gc_runs[info["generation"]]
        g[0] += 1
        g[1] += _ct.perf_counter() - _gc_t[0]


_gc.callbacks.append(_gc_cb)

if os.environ.get("BENCH_POLL_HZ"):  # a native thread that wakes that often and takes the GIL
    # for a little Python work (as a polling sender thread does): what one costs the loop
    import gevent.monkey as _gm

    def _poller(every=1.0 / float(os.environ["BENCH_POLL_HZ"])):
        sleep = _gm.get_original("time", "sleep")
        while True:
            sleep(every)
            _cj.loads(_cj.dumps({"segment": 1, "offset": sum(range(300))}))

    _gm.get_original("_thread", "start_new_thread")(_poller, ())


@events.test_start.add_listener
def _cpu_start(environment, **_kw):
    # what -t does (Locust's timelimit_stop), for the harness too: its profile runs longer
    # (side by side: when the driver says, once every run is ready: BENCH_READY exists)
    if not os.environ.get("BENCH_READY"):
        _cg.spawn_later(float(os.environ["BENCH_RUN_TIME"]), environment.runner.quit)

    def first():
        _cg.sleep(float(os.environ.get("BENCH_WARMUP", "3")))
        _cpu.append((_ct.perf_counter(), _ct.process_time()))
        ready, stop = os.environ.get("BENCH_READY"), None
        if ready:
            open(ready, "w").close()
        while True:  # (monotonic clock, GETs, CPU time) every 0.25 s: runs side by side are
            # compared over the window they share (the clock is the machine's, not ours)
            n = sum(e.num_requests for (k, _), e in environment.stats.entries.items() if k == "GET")
            _series.append((_ct.perf_counter(), n, _ct.process_time()))
            if ready and stop is None and os.path.exists(os.environ["BENCH_STOP"]):
                stop = float(open(os.environ["BENCH_STOP"]).read())
                _cg.spawn_later(max(stop - _ct.perf_counter(), 0.0), environment.runner.quit)
            _cg.sleep(0.25)

    _cg.spawn(first)


@events.test_stopping.add_listener
def _cpu_stop(environment, **_kw):
    if _cpu and os.environ.get("BENCH_CPU"):
        with open(os.environ["BENCH_CPU"], "w") as f:
            last = (_ct.perf_counter(), _ct.process_time())
            _cj.dump({"first": _cpu[0], "last": last, "gc": _gc_runs, "series": _series}, f)
"""

REDIS_URL = "redis://127.0.0.1:6379/5"
PREFIX = "bench_rec:"


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
    # response times spread as a loaded run's are (log-normal, median ~1 ms, a tail to ~20
    # ms, microsecond resolution): the window close costs per distinct value
    rnd = random.Random(7)
    args = [
        (names[i % keys], rnd.lognormvariate(0.0, 0.8), t0 + i * seconds / samples)
        for i in range(samples)
    ]

    rec = Recorder(tl)
    rec.active = True
    on_request = rec.on_request
    start = time.thread_time()
    for name, rt, st in args:
        on_request("HTTP", name, rt, 0, None, ctx, st)
    listener = time.thread_time() - start
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
        start = time.thread_time()
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
        full = time.thread_time() - start
        writer.close()
        streamer.spool.close()
    shape = f"{samples} samples, {keys} keys, {samples // seconds}/s"
    emit(
        Figure(
            "recording",
            "recording cost per sample: the request listener",
            f"{listener / samples * 1e6:.2f} µs",
            command="python -m bench.recording",
            note=shape + "; CPU time of the thread",
        )
    )
    emit(
        Figure(
            "recording",
            "recording cost per sample: whole path (windows, HDR, run dir, line protocol, spool)",
            f"{full / samples * 1e6:.2f} µs",
            command="python -m bench.recording",
            note=shape + "; CPU time of the thread",
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


@dataclass(frozen=True)
class Variant:
    """One side of the throughput comparison: bare Locust, or the harness on with some of its
    parts left out (each part's cost is then the rate it gives back)."""

    name: str
    harness: bool = True
    chaos: str = "route"  # "route": the profile with its Redis route; "noroute": no proxy at
    # all (scheduler only); "none": --no-chaos (recording, run directory, streaming only)
    proxy: str = "process"  # --chaos-proxy: "process" (the default) or "embedded"
    influx: bool = True
    env: tuple[tuple[str, str], ...] = ()
    what: str = ""


VARIANTS: dict[str, Variant] = {
    v.name: v
    for v in (
        Variant("bare", harness=False, what="bare Locust, only the load options wired"),
        Variant(
            "on",
            what="harness on: scheduler, proxy process with a route, recording, "
            "run directory, streaming",
        ),
        Variant("no-influx", influx=False, what="harness on without streaming"),
        Variant(
            "greenlet-sender",
            env=(("BENCH_STREAMER", "greenlet"),),
            what="harness on, the InfluxDB sender a greenlet on the loop, not a thread",
        ),
        Variant(
            "bare-poll5",
            harness=False,
            env=(("BENCH_POLL_HZ", "5"),),
            what="bare Locust and a native thread waking 5 times a second",
        ),
        Variant(
            "bare-poll50",
            harness=False,
            env=(("BENCH_POLL_HZ", "50"),),
            what="bare Locust and a native thread waking 50 times a second",
        ),
        Variant(
            "no-route", chaos="noroute", what="harness on, a profile without routes: no fault proxy"
        ),
        Variant("embedded", proxy="embedded", what="harness on, the proxy in this process"),
        Variant(
            "no-chaos",
            chaos="none",
            what="--no-chaos: recording, run directory, streaming; no scheduler, no proxy",
        ),
    )
}


class LocustRun:
    """One headless Locust process (started at once; ``result()`` waits for it)."""

    def __init__(
        self,
        tmp: Path,
        variant: Variant | bool,
        users: int,
        duration: float,
        vm: Victoria | None,
        wait: float = 0.0,
        together: Path | None = None,
    ) -> None:
        if isinstance(variant, bool):
            variant = VARIANTS["on" if variant else "bare"]
        self.variant = variant
        locustfile = tmp / "bench_locustfile.py"
        locustfile.write_text(LOCUSTFILE + figures.STEADY_LISTENER)
        tag = uuid.uuid4().hex[:8]
        self.duration = duration
        self.stats = tmp / f"stats-{tag}"
        self.steady = tmp / f"steady-{tag}.json"
        self.cpu = tmp / f"cpu-{tag}.json"
        args = [sys.executable, "-m", "locust", "-f", str(locustfile), "--headless",
                "--only-summary", "-u", str(users), "-r", str(users),
                "--json-file", str(self.stats), "--loglevel", "WARNING",
                "--redis-url", REDIS_URL, "--redis-prefix", PREFIX]  # fmt: skip
        if variant.harness:
            # the first burst starts after the measured time: scheduler and route idle
            phases = Phases(warmup=2, baseline=int(duration) + 30, burst_on=5, burst_off=5,
                            bursts=1, cooldown=2)  # fmt: skip
            if variant.chaos == "none":
                args += ["--no-chaos"]
            else:
                profile = tmp / f"profile-{tag}.yaml"
                if variant.chaos == "noroute":
                    text = (
                        "description: no routes\nenabled: true\nseed: 7\n"
                        "allow: [127.0.0.1]\n" + phases_text(phases) + "faults: []\n"
                    )
                else:
                    text = profile_text(free_port(), 50, 7, phases)
                profile.write_text(text)
                args += ["--chaos-profile", str(profile), "--chaos-proxy", variant.proxy,
                         "--chaos-proxy-api", f"127.0.0.1:{free_port()}"]  # fmt: skip
            args += ["--results-dir", str(tmp / "runs"), "--run-id", tag, "--sut-pg-dsn", "none"]
            if vm is not None and variant.influx:
                args += ["--influx-url", vm.url, "--influx-org", "o", "--influx-bucket", "b"]
        self.command = " ".join(args).replace(sys.executable, "python") + " RedisGet"
        env = {"BENCH_HARNESS": "on" if variant.harness else "off", "BENCH_WAIT": str(wait),
               "BENCH_STEADY": str(self.steady), "BENCH_NAME": "GET", "BENCH_WARMUP": "3",
               "BENCH_CPU": str(self.cpu), "BENCH_RUN_TIME": str(duration),
               "INFLUX_TOKEN": "bench", "PATH": "/usr/bin:/bin",
               "PYTHONPATH": str(ROOT), **dict(variant.env)}  # fmt: skip
        self.ready: Path | None = None
        if together is not None:  # side by side: say when ready, stop when told (below)
            self.ready = together / f"ready-{tag}"
            env["BENCH_READY"], env["BENCH_STOP"] = str(self.ready), str(together / "stop")
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

    def cpu_share(self) -> float:
        """The Locust process's CPU time (all its threads) over the steady window, as a share of
        that window's wall time (1.0: one core all the time); after ``result()``."""
        data = json.loads(self.cpu.read_text())
        (w0, c0), (w1, c1) = data["first"], data["last"]
        return float(c1 - c0) / max(w1 - w0, 1e-9)

    def gc_share(self) -> tuple[float, list[int]]:
        """The garbage collector's time over the steady window as a share of its wall time, and
        its runs per generation."""
        data = json.loads(self.cpu.read_text())
        (w0, _), (w1, _) = data["first"], data["last"]
        return sum(g[1] for g in data["gc"]) / max(w1 - w0, 1e-9), [g[0] for g in data["gc"]]


def _rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def _cpu_ticks(pid: int) -> int:
    """utime + stime of ``pid`` in clock ticks (0 when it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    return int(fields[11]) + int(fields[12])


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(c) for c in text.split()]


class ChildCpu:
    """Polls the CPU time of a process's children (the fault proxy the harness starts) while
    it runs: their share of a core over the run."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.ticks: dict[int, int] = {}
        self.started = time.monotonic()
        self.ended = self.started
        self.thread = threading.Thread(target=self._poll, daemon=True)
        self.thread.start()

    def _poll(self) -> None:
        while Path(f"/proc/{self.pid}").exists() and _cpu_ticks(self.pid):
            for child in _children(self.pid):
                self.ticks[child] = max(self.ticks.get(child, 0), _cpu_ticks(child))
            self.ended = time.monotonic()
            time.sleep(0.25)

    def share(self) -> float:
        self.thread.join(5)
        wall = max(self.ended - self.started, 1e-9)
        return sum(self.ticks.values()) / os.sysconf("SC_CLK_TCK") / wall


@dataclass
class Sample:
    rate: float  # requests/s, steady
    cpu: float  # the Locust process's share of a core over the steady window
    children: float  # its children's (the proxy's) share of a core over the whole run
    vm: float  # VictoriaMetrics' share of a core over the whole run
    gc: float  # the Locust process's garbage collector: share of the steady window
    gc_runs: list[int]  # its collections per generation meanwhile

    @property
    def us_per_request(self) -> float:
        return self.cpu / self.rate * 1e6


def measure(
    tmp: Path, variant: Variant, users: int, duration: float, vm: Victoria
) -> tuple[Sample, str]:
    """One run alone: its steady rate and CPU."""
    vm0, t0 = _cpu_ticks(vm.proc.pid), time.monotonic()
    run = LocustRun(tmp, variant, users, duration, vm)
    kids = ChildCpu(run.proc.pid)
    rate = run.result()
    vm_share = (_cpu_ticks(vm.proc.pid) - vm0) / os.sysconf("SC_CLK_TCK") / (time.monotonic() - t0)
    gc, gc_runs = run.gc_share()
    return Sample(rate, run.cpu_share(), kids.share(), vm_share, gc, gc_runs), run.command


def measure_together(
    tmp: Path, variants: list[Variant], users: int, duration: float, vm: Victoria
) -> list[tuple[Sample, str]]:
    """The variants' runs at the same time, side by side (each its own process, its own
    users), compared over the steady window they all share: whatever else loads the machine
    then loads them all alike, and two CPU-bound processes of the same niceness get the same
    CPU time, so the ratio of their rates is the ratio of their work per request."""
    vm0, t0 = _cpu_ticks(vm.proc.pid), time.monotonic()
    # once every run measures (a harness's start under load takes seconds longer: its
    # imports, the proxy process), one moment to stop them all, ``duration`` later (on the
    # machine's monotonic clock: time.monotonic is perf_counter's on Linux)
    together = Path(tempfile.mkdtemp(dir=tmp))
    runs = [LocustRun(tmp, v, users, 300, vm, together=together) for v in variants]
    deadline = time.monotonic() + 120
    while not all(r.ready is not None and r.ready.exists() for r in runs):
        if time.monotonic() > deadline or any(r.proc.poll() is not None for r in runs):
            for r in runs:
                r.proc.kill()
            raise RuntimeError("a side-by-side run did not start within 120 s")
        time.sleep(0.1)
    (together / "stop.tmp").write_text(str(time.monotonic() + duration))
    (together / "stop.tmp").rename(together / "stop")
    kids = [ChildCpu(r.proc.pid) for r in runs]
    for r in runs:
        r.result()
    vm_share = (_cpu_ticks(vm.proc.pid) - vm0) / os.sysconf("SC_CLK_TCK") / (time.monotonic() - t0)
    series = [json.loads(r.cpu.read_text())["series"] for r in runs]
    start = max(s[0][0] for s in series)
    end = min(s[-1][0] for s in series)
    if end - start < 2.0:
        raise RuntimeError(f"the side-by-side runs share only {end - start:.1f} s")
    print(f"  (side by side over {end - start:.1f} s)", flush=True)
    out = []
    for r, s, k in zip(runs, series, kids, strict=True):
        inside = [x for x in s if start <= x[0] <= end]
        (w0, n0, c0), (w1, n1, c1) = inside[0], inside[-1]
        gc, gc_runs = r.gc_share()
        sample = Sample((n1 - n0) / (w1 - w0), (c1 - c0) / (w1 - w0), k.share(), vm_share, gc,
                        gc_runs)  # fmt: skip
        out.append((sample, r.command))
    return out


def throughput(
    duration: float,
    pairs: int,
    users: int,
    names: list[str] | None = None,
    together: bool = False,
) -> None:
    """Bare Locust and the harness-on variants, one run after the other in one round, the
    order reversed every other round (A B C, C B A, ...), ``pairs`` rounds; each variant's
    ratio to bare is per round, then the median. Each run also gives the Locust process's CPU
    per request (its CPU time over the steady window / requests), which the machine's other
    load moves much less than the rate."""
    names = names or ["bare", "on"]
    variants = [VARIANTS[n] for n in names]
    if variants[0].name != "bare":
        variants.insert(0, VARIANTS["bare"])
    samples: dict[str, list[Sample]] = {v.name: [] for v in variants}
    loads: list[str] = []
    commands: dict[str, str] = {}
    with tempfile.TemporaryDirectory() as t:
        tmp = Path(t)
        vm = Victoria(tmp)
        try:
            for i in range(pairs):
                order = variants if i % 2 == 0 else variants[::-1]
                done = (
                    measure_together(tmp, order, users, duration, vm)
                    if together
                    else [measure(tmp, v, users, duration, vm) for v in order]
                )
                for v, (sample, commands[v.name]) in zip(order, done, strict=True):
                    samples[v.name].append(sample)
                    print(
                        f"  round {i + 1} {v.name:10s}: {sample.rate:7.0f} req/s, Locust "
                        f"{sample.cpu * 100:5.1f} % of a core = {sample.us_per_request:6.1f} "
                        f"µs CPU/request; proxy (whole run) {sample.children * 100:4.1f} %, "
                        f"VictoriaMetrics {sample.vm * 100:4.1f} %; GC {sample.gc * 100:4.1f} %"
                        f" (runs {'/'.join(map(str, sample.gc_runs))}) (load {load_average()})",
                        flush=True,
                    )
                loads.append(load_average())
        finally:
            vm.stop()
    for v in variants:
        print(f"  {v.name}: {v.what}\n    {commands[v.name]}")
    bare = samples["bare"]
    for v in variants[1:]:
        mine = samples[v.name]
        ratios = [m.rate / b.rate for m, b in zip(mine, bare, strict=True)]
        cpu = [m.us_per_request / b.us_per_request for m, b in zip(mine, bare, strict=True)]
        print(
            f"  {v.name} / bare: rate {', '.join(f'{r * 100:.1f}' for r in ratios)} %; "
            f"CPU per request {', '.join(f'{c:.3f}' for c in cpu)}x",
            flush=True,
        )
        ratio = statistics.median(ratios)
        if v.name == "on":
            emit(
                Figure(
                    "recording",
                    f"harness on (profile idle between bursts, recording, streaming) / bare "
                    f"Locust, {users} RedisUsers",
                    f"{ratio * 100:.1f} % (min {min(ratios) * 100:.1f}, max "
                    f"{max(ratios) * 100:.1f})",
                    "≥ 95 %",
                    ratio >= 0.95,
                    command=" ; ".join(commands[n] for n in ("bare", "on")),
                    note=f"median of {pairs} alternating rounds; loads {'; '.join(loads)}",
                )
            )
            emit(
                Figure(
                    "recording",
                    f"Locust CPU per request, harness on / bare Locust, {users} RedisUsers",
                    f"{statistics.median(cpu):.3f}x (bare "
                    f"{statistics.median(b.us_per_request for b in bare):.1f} µs)",
                    command=" ; ".join(commands[n] for n in ("bare", "on")),
                    note=f"median of {pairs} alternating rounds",
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
    p.add_argument("--skip-cost", action="store_true")
    p.add_argument(
        "--together",
        action="store_true",
        help="run a round's variants at the same time, side by side, not one after the other",
    )
    p.add_argument(
        "--variants",
        default="bare,on",
        help=f"comma-separated, bare first (of {', '.join(VARIANTS)})",
    )
    a = p.parse_args()
    sys.path.insert(0, str(ROOT))
    if not a.skip_cost:
        cost_per_sample()
    if not a.skip_throughput:
        throughput(a.duration, a.pairs, a.users, a.variants.split(","), a.together)
    if not a.skip_rss:
        memory(a.rss_minutes, 20)
    return 0


if __name__ == "__main__":
    sys.exit(figures.run_bench("recording", main))
