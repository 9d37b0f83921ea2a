"""Verdicts of live runs under noise (issue 11): real ``locust`` processes, the default gate, the
noise source on (bench.noise: CPU hogs, a redis-benchmark and a pgbench neighbour switched on and
off at random, by seed), against servers the test starts itself:

- outside servers (bench.outside): a plain nginx, a ``pgbench -i`` database, plain Redis behind
  the fault proxy's route; an A/A run (``faults: []``) passes; a run with +10 ms on the Redis
  route (a 1-3 ms service) in burst 1 and +50 ms in burst 2 fails, and the 50 ms is reported
  within 10 %;
- the reference system (chaosbench.sut) with its Redis behind the route: an A/A run passes; a run
  with +10 ms on that route in burst 1 (the quote reads: one Redis GET each) and the route down in
  burst 2, with the system's breaker held open ``HOLD_S`` after Redis is back
  (``--breaker-hold-s``), fails, and recovers from burst 2 in ``HOLD_S`` ± 1 s (the lingering
  effect's known time) while the PostgreSQL traffic, which no fault touches, never decides it.

The four runs (about 63 s each) run at the same time, under the same noise: each is the others'
neighbour too. Every name is the test's own: PostgreSQL databases ``verdicts_*``, Redis
database 7 and keys ``verdicts:*``.
"""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import psycopg
import pytest
import redis

from bench.noise import ClosedOnExit, Noise, NoiseSettings, die_with_parent, stop_children
from bench.outside import (
    OutsideServers,
    Phases,
    RunResult,
    free_port,
    phases_text,
    port_open,
    run,
    run_locust,
)
from chaosbench.analysis.analyze import Analysis, analyze
from chaosbench.analysis.gate import load_gate
from chaosbench.analysis.outcome import Status, Verdict
from chaosbench.analysis.regression import Comparison
from chaosbench.analysis.rundir import load
from chaosbench.analysis.verdict import evaluate
from chaosbench.ground.errors import EXIT_GATE_FAILED, EXIT_PASS
from tests.conftest import PG_DSN, PYTHON, ROOT, wait_until

pytestmark = pytest.mark.slow

PHASES = Phases(warmup=6, baseline=15, burst_on=8, burst_off=12, bursts=2, cooldown=2)
USERS = 9  # outside runs: 3 of each kind, enough samples in a burst on a loaded machine
HOLD_S = 4.0  # the reference system's breaker stays open this long after Redis is back
SEED = 5
REDIS_DB = 7
# A small keyspace for the redis-benchmark neighbour: the shared Redis may run with a low
# maxmemory (another test's memory-pressure fault); its writes should not be what fills it.
NOISE = NoiseSettings(
    max_duration_s=PHASES.total_s + 300,
    redis_db=REDIS_DB,
    pg_db_prefix="verdicts_",
    redis_keyspace=500,
)
SUT_LOCUSTFILE = "tests/analysis/locustfile_sut_noise.py"
LIMIT_S = (
    PHASES.total_s + 300
)  # a bound, not a speed target: startup and judging are slow at load 20
#: A service whose baseline p95 is at most this is a fast one (1-3 ms quiet; up to this on a
#: loaded shared machine): +10 ms is +50 % or more there, beyond both budgets, and must fail.
#: Slower (the machine overloaded, p95s of 50-150 ms were seen at load 15 on 2 cores), +10 ms
#: may hide in the noise: then it must at least never pass.
FAST_MS = 20.0


class ReferenceSystem(ClosedOnExit):
    """``python -m chaosbench.sut`` on a database of its own, its Redis (db 7, own prefix)
    reached through ``route`` (a port the run's profile listens on), breaker held ``HOLD_S``."""

    def __init__(self, log: Path) -> None:
        tag = uuid.uuid4().hex[:8]
        self.db = f"verdicts_sut_{tag}"
        self.prefix = f"verdicts:sut:{tag}:"
        self.route = free_port()
        self.port = free_port()
        self.log = log
        self.proc: subprocess.Popen[bytes] | None = None
        self.created = False

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> ReferenceSystem:
        try:
            with psycopg.connect(PG_DSN, autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{self.db}"')
            self.created = True
            dsn = f"{PG_DSN.rsplit('/', 1)[0]}/{self.db}"
            args = [
                PYTHON, "-m", "chaosbench.sut", "--port", str(self.port), "--pg-dsn", dsn,
                "--pg-schema", "orders_live", "--redis-prefix", self.prefix,
                "--redis-url", f"redis://127.0.0.1:{self.route}/{REDIS_DB}",
                "--rate-limit", "0", "--breaker-cooldown", "0.1", "--breaker-hold-s", str(HOLD_S),
                # a generous timeout: a stall of the overloaded host is no Redis failure (each
                # failure would start the hold over); the route down refuses at once
                "--redis-timeout", "3",
            ]  # fmt: skip
            with open(self.log, "wb") as fh:
                proc = self.proc = subprocess.Popen(
                    args, stdout=fh, stderr=subprocess.STDOUT, cwd=ROOT, preexec_fn=die_with_parent
                )
            # Its Redis route opens only when the run starts: it listens, answering 503 until then.
            wait_until(lambda: port_open(self.port) or proc.poll() is not None, timeout=30)
            assert proc.poll() is None, self.log.read_text(errors="replace")
        except BaseException:
            self.close()
            raise
        return self

    def close(self) -> None:
        if self.proc is not None:
            stop_children([self.proc])
            self.proc = None
        if self.created:
            with psycopg.connect(PG_DSN, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{self.db}" WITH (FORCE)')
            self.created = False
        r = redis.Redis(host="127.0.0.1", port=6379, db=REDIS_DB)
        try:
            for key in r.scan_iter(f"{self.prefix}*", count=1000):
                r.delete(key)
        finally:
            r.close()

    def profile(self, faults: str) -> str:
        return (
            f"description: reference system under noise\nenabled: true\nseed: {SEED}\n"
            "allow: [127.0.0.1]\n" + phases_text(PHASES) + "proxy:\n  routes:\n"
            f"    sut_redis: {{listen: 127.0.0.1:{self.route}, upstream: 127.0.0.1:6379}}\n"
            + faults
        )

    def run(self, work: Path, run_id: str, faults: str) -> RunResult:
        work.mkdir(parents=True, exist_ok=True)
        profile = work / f"{run_id}.yaml"
        profile.write_text(self.profile(faults))
        args = [
            "-f", SUT_LOCUSTFILE, "-u", "6", "-r", "6", "--host", self.url,
            "--pg-dsn", PG_DSN, "--pg-schema", "verdicts_live",
        ]  # fmt: skip
        return run_locust(args, profile, work, run_id, LIMIT_S, "gates/default.yaml")


SUT_TRUTH = (
    "faults:\n"
    "  - {name: redis_10ms, type: latency, route: sut_redis, latency_ms: 10, bursts: [1]}\n"
    "  - {name: redis_down, type: route_down, route: sut_redis, bursts: [2]}\n"
)


@dataclass(frozen=True)
class Judged:
    result: RunResult
    verdict: Verdict
    analysis: Analysis

    def why(self) -> str:
        lines = [f"exit {self.result.code}: {self.verdict.headline}"]
        lines += [f"  {r.name}: {r.status} at {r.where}" for r in self.verdict.results]
        lines += [
            f"  recovery {r.burst}: {r.recovery_s} {r.affected} {r.note}"
            for r in self.analysis.recoveries
        ]
        return "\n".join(lines) + "\n" + self.result.output[-2500:]

    def comparison(self, phase: str, kind: str) -> Comparison:
        for c in self.analysis.versus(["burst"], "kind", 95.0):
            if c.phase == phase and c.scope == kind:
                return c
        raise AssertionError(f"no comparison {phase} {kind}:\n{self.why()}")

    def cell(self, criterion: str, where: str) -> Status:
        for r in self.verdict.results:
            for c in r.cells:
                if r.name == criterion and c.where == where:
                    return c.status
        raise AssertionError(f"no {criterion} cell {where}:\n{self.why()}")


def judged(result: RunResult) -> Judged:
    run_data = load(result.run_dir)
    gate = load_gate(None)
    return Judged(result, evaluate(run_data, gate, None), analyze(run_data, gate))


@dataclass(frozen=True)
class LiveRuns:
    outside_aa: Judged
    outside_truth: Judged
    sut_aa: Judged
    sut_truth: Judged
    sut_truth_log: Path  # the reference system's log of the truth run (its breaker's record)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveRuns]:
    work = tmp_path_factory.mktemp("live")
    names = {
        "db_prefix": "verdicts_",
        "key_prefix": "verdicts:",
        "redis_url": f"redis://127.0.0.1:6379/{REDIS_DB}",
    }
    with (
        Noise(SEED, NOISE),
        OutsideServers(**names) as ends,
        ReferenceSystem(work / "sut-aa.log") as sut_aa,
        ReferenceSystem(work / "sut-truth.log") as sut_truth,
        ThreadPoolExecutor(4) as pool,
    ):
        futures = [
            pool.submit(run, ends, work, "out_aa", None, SEED, PHASES, USERS, limit_s=LIMIT_S),
            pool.submit(
                run,
                ends,
                work,
                "out_truth",
                None,
                SEED,
                PHASES,
                per_burst_ms=(10, 50),
                limit_s=LIMIT_S,
            ),
            pool.submit(sut_aa.run, work, "sut_aa", "faults: []\n"),
            pool.submit(sut_truth.run, work, "sut_truth", SUT_TRUTH),
        ]
        results = [f.result() for f in futures]
    out_aa, out_truth, ref_aa, ref_truth = (judged(r) for r in results)
    yield LiveRuns(out_aa, out_truth, ref_aa, ref_truth, sut_truth.log)


def test_outside_a_a_under_noise_passes_the_default_gate(live: LiveRuns) -> None:
    j = live.outside_aa
    assert j.result.code == EXIT_PASS and j.verdict.exit_code == EXIT_PASS, j.why()
    assert all(r.status != Status.FAIL for r in j.verdict.results), j.why()


def test_outside_ten_ms_fails_and_fifty_ms_is_reported_within_ten_percent(live: LiveRuns) -> None:
    j = live.outside_truth
    assert j.result.code == EXIT_GATE_FAILED, j.why()
    ten = j.comparison("burst1", "REDIS")
    if ten.reference_ms <= FAST_MS:  # a 1-3 ms service (up to FAST_MS on a loaded machine)
        assert j.cell("p95_regression", "burst1 REDIS") == Status.FAIL, j.why()
    else:  # the host made it a slow one: +10 ms may hide in its noise, but never passes
        assert j.cell("p95_regression", "burst1 REDIS") != Status.PASS, j.why()
    fifty = j.comparison("burst2", "REDIS")
    assert fifty.effect_ms is not None and fifty.method == "control", fifty
    if fifty.reference_ms <= FAST_MS:
        assert fifty.effect_ms.value == pytest.approx(50.0, rel=0.10), (fifty, j.why())
    else:
        assert fifty.effect_ms.low <= 50.0 <= fifty.effect_ms.high, (fifty, j.why())


def test_reference_system_a_a_under_noise_passes_the_default_gate(live: LiveRuns) -> None:
    j = live.sut_aa
    assert j.result.code == EXIT_PASS and j.verdict.exit_code == EXIT_PASS, j.why()


def test_reference_system_ten_ms_on_its_redis_route_fails_the_gate(live: LiveRuns) -> None:
    j = live.sut_truth
    assert j.result.code == EXIT_GATE_FAILED, j.why()
    if j.comparison("burst1", "HTTP").reference_ms <= FAST_MS:
        assert j.cell("p95_regression", "burst1 HTTP") == Status.FAIL, j.why()
    else:  # the host made it a slow service: +10 ms may hide in its noise, but never passes
        assert j.cell("p95_regression", "burst1 HTTP") != Status.PASS, j.why()
    first = j.analysis.recoveries[0]
    assert first.recovered and first.recovery_s is not None and first.recovery_s <= 1.0, j.why()


def breaker_closed_at(log: Path, after: float) -> float:
    """When the reference system's Redis breaker closed (its "redis recovered" log line, local
    time as logging's asctime writes it), the first time after ``after`` (Unix seconds)."""
    for line in log.read_text(errors="replace").splitlines():
        if "redis recovered" not in line:
            continue
        at = datetime.strptime(line[:23], "%Y-%m-%d %H:%M:%S,%f").timestamp()
        if at > after:
            return at
    raise AssertionError(f"no 'redis recovered' after {after} in {log}")


def test_a_lingering_effect_recovers_in_its_known_time(live: LiveRuns) -> None:
    j = live.sut_truth
    down = j.analysis.recoveries[1]
    assert down.recovered and down.recovery_s is not None, j.why()
    # The truth, as the system itself recorded it: the breaker closed HOLD_S after Redis first
    # answered again, which is a little after the route came back (the cooldown, the next
    # request, a reconnect): HOLD_S .. HOLD_S + 2 s after the burst's end.
    truth = breaker_closed_at(live.sut_truth_log, down.end) - down.end
    assert HOLD_S <= truth <= HOLD_S + 2.0, (truth, j.why())
    assert abs(down.recovery_s - truth) <= 1.0, (truth, j.why())
    assert down.slowest == "HTTP" and "HTTP" in down.affected, j.why()
    # PostgreSQL, which no fault touched, never decides recovery, however noisy it was
    pg = next(k for k in down.kinds if k.kind == "PG")
    assert not pg.affected and "PG" not in down.affected, j.why()
