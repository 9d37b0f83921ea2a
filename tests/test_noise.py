"""The shared noise source (bench.noise): reproducible by seed, really running while on, and
leaving nothing behind (no child process, no database, no keys), also when the body raises or
the parent is killed."""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
from pathlib import Path

import psycopg
import pytest
import redis

from bench.noise import Noise, NoiseSettings, SourceTiming, plan
from tests.conftest import PG_DSN, PYTHON, REDIS_URL, ROOT, wait_until

# Short on/off periods so that each source switches on within a few seconds.
QUICK = SourceTiming(on_mean_s=2.0, off_mean_s=0.5)


def quick(**kw: object) -> NoiseSettings:
    base: dict[str, object] = {
        "max_duration_s": 12.0, "cpu_hogs": 0, "redis": None, "pg": None, "cpu": QUICK,
    }  # fmt: skip
    base.update(kw)
    return NoiseSettings(**base)  # type: ignore[arg-type]


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


def utime(pid: int) -> int:
    return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[11])


def test_the_same_seed_gives_the_same_timeline_and_another_seed_another() -> None:
    settings = NoiseSettings(max_duration_s=300)
    a, b, c = plan(5, settings), plan(5, settings), plan(6, settings)
    assert a == b
    assert a != c
    assert {p.source for p in a} == {"cpu", "redis", "pg"}
    for p in a:
        assert 0 < p.start < p.end <= 300
    # on and off periods are not a fixed period: the starts of one source are irregular
    starts = [p.start for p in a if p.source == "cpu"]
    gaps = {round(y - x, 3) for x, y in itertools.pairwise(starts)}
    assert len(gaps) > 3


def test_cpu_hogs_burn_cpu_while_on_and_are_gone_after() -> None:
    with Noise(seed=1, settings=quick(cpu_hogs=1)) as noise:
        pids = wait_until(lambda: noise.pids("cpu"), timeout=15)
        assert isinstance(pids, tuple)
        pid = pids[0]
        first = utime(pid)
        wait_until(lambda: not alive(pid) or utime(pid) > first + 10, timeout=10)
        assert not alive(pid) or utime(pid) > first
    assert not alive(pid)
    applied = noise.applied()
    assert applied and applied[0].source == "cpu" and pid in applied[0].pids
    assert noise.started is not None and applied[0].start >= noise.started
    assert all(a.end >= a.start for a in applied)


def test_applied_timeline_follows_the_plan() -> None:
    settings = quick(cpu_hogs=1, max_duration_s=6.0, cpu=SourceTiming(0.5, 0.5))
    with Noise(seed=2, settings=settings) as noise:
        wait_until(lambda: len(noise.applied()) >= 2, timeout=15)
    applied = [a for a in noise.applied() if a.end > a.start]
    assert len(applied) >= 2
    planned = noise.planned[: len(applied)]
    assert noise.started is not None
    for p, a in zip(planned, applied, strict=False):
        # the same on-intervals, in the same order (the wall-clock times come with a small lag)
        assert a.start - noise.started >= p.start - 0.05


def test_redis_neighbour_runs_in_its_own_database_while_on() -> None:
    db = 13
    r = redis.Redis.from_url(REDIS_URL)

    def neighbours() -> int:
        return sum(1 for c in r.client_list() if int(c.get("db", -1)) == db)

    # one long on-interval: on a loaded machine redis-benchmark may take longer to connect than
    # a short one lasts
    settings = quick(
        redis=SourceTiming(60.0, 0.5), redis_db=db, redis_clients=2, max_duration_s=30.0
    )
    with Noise(seed=3, settings=settings) as noise:
        wait_until(lambda: noise.is_on("redis"), timeout=15)
        wait_until(lambda: neighbours() >= 1, timeout=20)
        seen = neighbours()
        before = int(r.info("stats")["total_commands_processed"])
        keys = redis.Redis.from_url(REDIS_URL, db=db)
        wait_until(lambda: keys.dbsize() > 0, timeout=10)
        after = int(r.info("stats")["total_commands_processed"])
    assert seen >= 1
    assert after > before
    wait_until(lambda: neighbours() == 0, timeout=10)
    assert not list(keys.scan_iter("key:*", count=1000))  # the neighbour's keys are deleted


def test_pgbench_neighbour_shows_in_pg_stat_activity_and_its_database_is_dropped() -> None:
    settings = quick(pg=QUICK, pg_clients=1)
    noise = Noise(seed=4, settings=settings)
    with psycopg.connect(PG_DSN, autocommit=True) as conn:

        def neighbours() -> int:
            row = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s",
                (noise.pg_application_name,),
            ).fetchone()
            return int(row[0]) if row else 0

        def database_exists() -> bool:
            row = conn.execute(
                "SELECT count(*) FROM pg_database WHERE datname = %s", (noise.pg_database,)
            ).fetchone()
            return bool(row and row[0])

        with noise:
            assert database_exists()
            wait_until(lambda: noise.is_on("pg"), timeout=15)
            seen = wait_until(neighbours, timeout=10)
            pids = noise.pids("pg")
        assert seen
        assert not database_exists()
        assert neighbours() == 0
    assert pids and not any(alive(p) for p in pids)


def test_everything_is_stopped_when_the_body_raises() -> None:
    settings = quick(cpu_hogs=2, pg=QUICK, pg_clients=1)
    pids: list[int] = []
    with pytest.raises(RuntimeError, match="body failed"):
        with Noise(seed=5, settings=settings) as noise:
            wait_until(lambda: noise.is_on("cpu"), timeout=15)
            pids += noise.pids("cpu")
            raise RuntimeError("body failed")
    assert pids and not any(alive(p) for p in pids)
    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM pg_database WHERE datname = %s", (noise.pg_database,)
        ).fetchone()
    assert row is not None and row[0] == 0


CHILD = """
import json, sys, time
from bench.noise import Noise, NoiseSettings, SourceTiming
settings = NoiseSettings(max_duration_s=60, cpu_hogs=2, cpu=SourceTiming(30, 0.2), redis=None,
                         pg=None)
with Noise(seed=6, settings=settings) as noise:
    while not noise.pids("cpu"):
        time.sleep(0.05)
    print(json.dumps(list(noise.pids("cpu"))), flush=True)
    time.sleep(60)
"""


def test_children_die_with_a_killed_parent() -> None:
    parent = subprocess.Popen(
        [PYTHON, "-c", CHILD], cwd=ROOT, stdout=subprocess.PIPE, text=True, env={**os.environ}
    )
    try:
        assert parent.stdout is not None
        pids = json.loads(parent.stdout.readline())
        assert len(pids) == 2 and all(alive(p) for p in pids)
        parent.send_signal(signal.SIGKILL)
        parent.wait(10)
        wait_until(lambda: not any(alive(p) for p in pids), timeout=10)
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait(10)


def test_a_non_loopback_target_is_refused() -> None:
    with pytest.raises(ValueError, match="not a loopback address"):
        Noise(seed=1, settings=quick(redis=QUICK, redis_url="redis://10.1.2.3:6379/0"))


def test_a_source_that_cannot_start_is_raised_at_exit(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    with pytest.raises(RuntimeError, match="noise: redis: FileNotFoundError"):
        with Noise(seed=7, settings=quick(redis=QUICK)) as noise:
            wait_until(lambda: noise.errors, timeout=15)
