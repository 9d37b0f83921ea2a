"""The exit-path matrix, real processes: SIGINT, SIGTERM and SIGKILL x the embedded and an external
proxy, with a TCP toxic, Redis memory pressure and a PostgreSQL lock active (one long burst holds
all three).

- SIGINT/SIGTERM: every fault is reverted before the run is judged (the journal's reverts end
  before report.md is written), the servers are as before, exit 2 (an interrupted run cannot be
  measured), one line saying so, no traceback.
- SIGKILL: the state is left (Redis maxmemory lowered and its filler keys, toxics on an external
  proxy; the server itself ends the lock of the dead connection), and the next start restores it
  and says so: with chaos on, with ``--no-chaos``, and from another working directory (the one
  ledger per machine and user).

Everything of the test is named with its own tag: the Redis filler prefix, the PostgreSQL schema
of the locked table; the Redis memory window lasts about two seconds a run.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
import redis

from chaosbench.proxy import ToxiproxyClient
from tests.chaos._sched_support import toxics_left
from tests.conftest import PG_DSN, PYTHON, REDIS_URL, ROOT, Proc, free_port, port_open, wait_until

pytestmark = pytest.mark.slow

LOCUSTFILE = str(ROOT / "tests" / "chaos" / "chaos_locustfile.py")
BOOT = (
    "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); "
    "os.execv(sys.argv[1], sys.argv[1:])"
)  # a child of a background job inherits SIGINT ignored: give it back its default


@dataclass
class World:
    """The servers' state this test touches, and how to read it."""

    tag: str
    table: str
    maxmemory: int
    policy: str
    r: redis.Redis
    admin: psycopg.Connection

    def memory(self) -> tuple[int, str]:
        return (
            int(self.r.config_get("maxmemory")["maxmemory"]),
            str(self.r.config_get("maxmemory-policy")["maxmemory-policy"]),
        )

    def filler_keys(self) -> int:
        return sum(1 for _ in self.r.scan_iter(match=f"{self.tag}:*", count=1000))

    def lock_holders(self) -> int:
        row = self.admin.execute(
            "SELECT count(*) FROM pg_locks WHERE relation = %s::regclass AND granted"
            " AND mode = 'AccessExclusiveLock'",
            (self.table,),
        ).fetchone()
        return int(row[0]) if row else 0

    def backends(self) -> int:
        """Backends (other than ours) whose last statement names this test's table."""
        row = self.admin.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE pid <> pg_backend_pid()"
            " AND query ILIKE %s",
            (f"%{self.tag}%",),
        ).fetchone()
        return int(row[0]) if row else 0

    def pressure_on(self) -> bool:
        return self.memory()[0] != self.maxmemory

    def restored(self) -> bool:
        return (
            self.memory() == (self.maxmemory, self.policy)
            and self.filler_keys() == 0
            and self.lock_holders() == 0
            and self.backends() == 0
        )


@pytest.fixture
def world() -> Iterator[World]:
    tag = f"cbn_{uuid.uuid4().hex[:8]}"
    r = redis.Redis.from_url(REDIS_URL)
    maxmemory = int(r.config_get("maxmemory")["maxmemory"])
    policy = str(r.config_get("maxmemory-policy")["maxmemory-policy"])
    admin = psycopg.connect(PG_DSN, autocommit=True)
    admin.execute(f"CREATE SCHEMA {tag}")
    admin.execute(f"CREATE TABLE {tag}.t (id int)")
    w = World(tag, f"{tag}.t", maxmemory, policy, r, admin)
    try:
        yield w
    finally:  # whatever the row left (an xfail row leaves it by design)
        r.config_set("maxmemory", maxmemory)
        r.config_set("maxmemory-policy", policy)
        for key in list(r.scan_iter(match=f"{tag}:*", count=1000)):
            r.delete(key)
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE pid <> pg_backend_pid() AND query ILIKE %s",
            (f"%{tag}%",),
        )
        admin.execute(f"DROP SCHEMA IF EXISTS {tag} CASCADE")
        admin.close()


def write_profile(path: Path, w: World, route: int, burst: str = "60s") -> Path:
    path.write_text(
        f"""seed: 5
phases: {{warmup: 0.5s, baseline: 0.5s, burst_on: {burst}, burst_off: 1s, bursts: 1, cooldown: 0}}
proxy:
  routes:
    redis: {{listen: 127.0.0.1:{route}, upstream: 127.0.0.1:6379}}
faults:
  - {{name: lat, type: latency, route: redis, latency_ms: 50}}
  - {{name: mem, type: redis_memory_pressure, url: "{REDIS_URL}", prefix: "{w.tag}:fill:",
      headroom_mb: 1}}
  - {{name: lock, type: pg_lock_contention, dsn: "{PG_DSN}", table: {w.table}}}
"""
    )
    return path


@dataclass
class Setup:
    """One row's proxy and paths: ``args`` are the proxy options of every locust start."""

    tmp: Path
    route: int
    args: list[str]
    proxy_url: str | None  # the external proxy's API; None: embedded
    env: dict[str, str]


@pytest.fixture
def setup(request: pytest.FixtureRequest, tmp_path: Path, spawn: Callable[..., Proc]) -> Setup:
    """The row's proxy (``request.param``: embedded, or external in its own process)."""
    route, api = free_port(), free_port()
    env = {"CB_TEST_PORT": str(route), "CHAOSBENCH_LEDGER": str(tmp_path / "ledger.json")}
    if request.param == "embedded":
        return Setup(tmp_path, route, ["--chaos-proxy-api", f"127.0.0.1:{api}"], None, env)
    proxy = spawn([PYTHON, "-m", "chaosbench.proxy", "--api", f"127.0.0.1:{api}"], name="proxy")
    wait_until(lambda: port_open(api), timeout=20)
    assert proxy.popen.poll() is None
    url = f"http://127.0.0.1:{api}"
    return Setup(tmp_path, route, ["--chaos-proxy", url], url, env)


def locust(s: Setup, profile: Path, *extra: str, run_id: str = "run") -> list[str]:
    return [PYTHON, "-c", BOOT, PYTHON, "-m", "locust", "-f", LOCUSTFILE, "--headless",
            "-u", "2", "-r", "2", "--only-summary", "--chaos-profile", str(profile),
            "--results-dir", str(s.tmp / "runs"), "--run-id", run_id, "--sut-pg-dsn", "none",
            *s.args, *extra]  # fmt: skip


class Run:
    """A locust process of a row, in the given working directory, its output in a file."""

    def __init__(self, cmd: list[str], log: Path, env: dict[str, str], cwd: Path) -> None:
        self.log = log
        self._fh = open(log, "wb")
        full = {**os.environ, "PYTHONUNBUFFERED": "1", **env}
        self.popen = subprocess.Popen(
            cmd, cwd=cwd, env=full, stdout=self._fh, stderr=subprocess.STDOUT
        )

    def wait(self, timeout: float) -> int:
        try:
            return self.popen.wait(timeout)
        finally:
            self._fh.close()

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def kill(self) -> None:
        if self.popen.poll() is None:
            self.popen.kill()
            self.wait(30)


@pytest.fixture
def runs() -> Iterator[list[Run]]:
    started: list[Run] = []
    yield started
    for run in started:
        run.kill()


def start_mid_burst(
    s: Setup, w: World, name: str, runs: list[Run], env: dict[str, str], cwd: Path = ROOT
) -> Run:
    """A run with the three faults injected (the toxic, the memory pressure, the lock)."""
    profile = write_profile(s.tmp / f"{name}.yaml", w, s.route)
    run = Run(locust(s, profile, run_id=name), s.tmp / f"{name}.log", env, cwd)
    runs.append(run)
    api = s.proxy_url or f"http://{s.args[1]}"

    def all_injected() -> bool:
        assert run.popen.poll() is None, run.output()[-3000:]
        toxics = ToxiproxyClient(api, timeout=1).toxics("redis")
        return bool(toxics) and w.pressure_on() and w.lock_holders() == 1

    wait_until(all_injected, timeout=60, interval=0.1)
    return run


def chaos_lines(log: str) -> list[str]:
    return [ln for ln in log.splitlines() if ln.startswith("chaosbench:")]


@pytest.mark.parametrize("setup", ["embedded", "external"], indirect=True)
@pytest.mark.parametrize("sig", ["SIGINT", "SIGTERM"])
def test_signal_reverts_everything_before_judging(
    setup: Setup, world: World, runs: list[Run], sig: str
) -> None:
    p = start_mid_burst(setup, world, sig, runs, setup.env)
    p.popen.send_signal(getattr(signal, sig))
    code = p.wait(60)
    log = p.output()
    assert code == 2, log[-3000:]
    assert "Traceback" not in log and "KeyboardInterrupt" not in log, log[-3000:]
    assert chaos_lines(log) == [
        f"chaosbench: interrupted by {sig}: faults reverted, the run is incomplete "
        f"(exit 2; report in {setup.tmp / 'runs' / sig})"
    ], log[-3000:]
    run_dir = setup.tmp / "runs" / sig
    journal = [json.loads(ln) for ln in (run_dir / "journal.jsonl").read_text().splitlines()]
    reverts = {r["name"]: r for r in journal if r["kind"] == "revert"}
    assert set(reverts) == {"lat", "mem", "lock"}, journal
    assert all(r["status"] == "ok" for r in reverts.values()), reverts
    report_written = (run_dir / "report.md").stat().st_mtime
    assert max(r["end"] for r in reverts.values()) < report_written
    assert world.restored(), (world.memory(), world.filler_keys(), world.lock_holders())
    if setup.proxy_url is not None:
        assert toxics_left(setup.proxy_url) == {}
    else:  # the embedded proxy ended with the process
        assert not port_open(int(setup.args[1].rsplit(":", 1)[1]))


def kill_mid_burst(s: Setup, w: World, runs: list[Run], env: dict[str, str], cwd: Path) -> None:
    run = start_mid_burst(s, w, "killed", runs, env, cwd)
    run.popen.send_signal(signal.SIGKILL)
    assert run.wait(30) == -signal.SIGKILL
    # left: Redis memory pressure and its filler keys, the external proxy's toxic; the lock's
    # connection died with the process, and the server ends its transaction (its lock) itself
    assert w.pressure_on() and w.filler_keys() > 0
    if s.proxy_url is not None:
        assert toxics_left(s.proxy_url), "the external proxy's toxic outlives the harness"
    wait_until(lambda: w.lock_holders() == 0, timeout=20)


def next_start(s: Setup, w: World, args: list[str], env: dict[str, str], cwd: Path) -> str:
    """A start that injects nothing: with chaos, its --run-time (2 s) is shorter than its
    profile (a 60 s warmup) and is refused at init, after it reverted the leftovers; with
    --no-chaos it runs 2 s."""
    profile = write_profile(s.tmp / "next.yaml", w, s.route)
    profile.write_text(profile.read_text().replace("warmup: 0.5s", "warmup: 60s"))
    cmd = locust(s, profile, "-t", "2s", *args, run_id="next")
    proc = subprocess.run(
        cmd, cwd=cwd, env={**os.environ, **env}, capture_output=True, text=True, timeout=90
    )
    return proc.stdout + proc.stderr


@pytest.mark.parametrize(
    ("setup", "then"),
    [
        ("embedded", "chaos"),
        ("external", "chaos"),
        ("embedded", "no-chaos"),
        ("external", "no-chaos"),
        ("embedded", "other-cwd"),
        ("external", "other-cwd"),
    ],
    indirect=["setup"],
)
def test_sigkill_leaves_state_and_the_next_start_restores_it(
    setup: Setup, world: World, runs: list[Run], then: str
) -> None:
    env = dict(setup.env)
    first_cwd = next_cwd = ROOT
    if then == "other-cwd":  # the default ledger location, and two working directories
        env["CHAOSBENCH_LEDGER"] = ""  # not set (the test session has its own)
        env["XDG_STATE_HOME"] = str(setup.tmp / "state")
        first_cwd, next_cwd = setup.tmp / "a", setup.tmp / "b"
        first_cwd.mkdir()
        next_cwd.mkdir()
    kill_mid_burst(setup, world, runs, env, first_cwd)
    extra = ["--no-chaos"] if then == "no-chaos" else []
    out = next_start(setup, world, extra, env, next_cwd)
    assert "Traceback" not in out, out[-3000:]
    assert world.restored(), (world.memory(), world.filler_keys(), out[-3000:])
    assert re.search(r"chaos ledger \S*: reverted redis_memory_pressure 'mem'", out), out[-3000:]
    if setup.proxy_url is not None:
        assert toxics_left(setup.proxy_url) == {}, out[-3000:]
