"""Locust's own ``--processes 2`` with the harness: one command, a master and two forked workers.

The same short profile (a PostgreSQL latency on the reference system's route) runs once in one
process and once with ``--processes 2``, side by side, each against its own reference system. The
forked run has one run directory (the master's), whose windows are the sum of what the two workers
reported (tests/users/dist/processes_hook.py records it), its verdict judges the same criteria
with the same results as the one-process run's, and no process of it is left when it exits.
"""

from __future__ import annotations

import json
import os
import subprocess
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
import redis

from chaosbench.analysis.rundir import load
from tests.conftest import PG_DSN, PYTHON, REDIS_URL, ROOT, free_port, port_open
from tests.sut.helpers import start_sut

pytestmark = pytest.mark.slow

LOCUSTFILES = ",".join(
    (
        "locustfiles/gateway_api.py",
        "locustfiles/gateway_feed.py",
        "tests/users/dist/processes_hook.py",
    )
)
GATE = """version: 1
inconclusive_fails: false
criteria:
  p95_regression: {limit: 0.15}   # the 300 ms on every statement: far over, in both runs
  p99_ceiling: {limit: 5000}
  deadline_misses: {limit: 1.0}
  error_rate: {limit: 0.5}
  baseline_error_rate: {limit: 0.5}
  recovery_time: {enabled: false}  # a 4 s recovery says little on a loaded machine
  stream_data_loss: {limit: 0.10}
"""
#: judged in both runs (not n/a, not "cannot measure")
JUDGED = {"p95_regression", "error_rate", "baseline_error_rate", "orders", "stream_data_loss"}


@dataclass
class Side:
    """One of the two runs: its reference system, routes and ports."""

    name: str
    url: str
    schema: str
    pg_route: int
    api: int
    results: Path


def _side(spawn: object, tmp_path: Path, name: str) -> Side:
    schema = f"cbt_{uuid.uuid4().hex[:10]}"
    port, pg_route = free_port(), free_port()
    dsn = f"postgresql://postgres@127.0.0.1:{pg_route}/test"
    url = start_sut(
        spawn,  # type: ignore[arg-type]
        port,
        dsn,
        REDIS_URL,
        schema,
        f"{schema}:",
        extra_args=["--pg-application-name", schema],  # no other test's backend kill reaches it
        healthy=False,  # its PostgreSQL is behind the route the harness creates at init
    )
    return Side(name, url, schema, pg_route, free_port(), tmp_path / name / "runs")


@pytest.fixture
def sides(spawn: object, tmp_path: Path) -> Iterator[tuple[Side, Side]]:
    pair = (_side(spawn, tmp_path, "one"), _side(spawn, tmp_path, "two"))
    yield pair
    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        for s in pair:
            conn.execute(f'DROP SCHEMA IF EXISTS "{s.schema}" CASCADE')
            conn.execute(f'DROP SCHEMA IF EXISTS "{s.schema}_load" CASCADE')
    r = redis.Redis.from_url(REDIS_URL)
    for s in pair:
        keys = list(r.scan_iter(match=f"{s.schema}:*", count=1000))
        if keys:
            r.delete(*keys)


def _args(side: Side, tmp_path: Path) -> list[str]:
    profile = tmp_path / side.name / "profile.yaml"
    profile.parent.mkdir(parents=True, exist_ok=True)
    profile.write_text(
        "enabled: true\nseed: 7\nallow: [127.0.0.1]\n"
        "phases: {warmup: 2s, baseline: 8s, burst_on: 5s, burst_off: 3s, bursts: 1, cooldown: 1s}\n"
        "proxy:\n  routes:\n"
        f"    sut_pg: {{listen: 127.0.0.1:{side.pg_route}, upstream: 127.0.0.1:5432}}\n"
        "faults:\n  - {name: pg_latency, type: latency, route: sut_pg, latency_ms: 300}\n"
    )
    gate = tmp_path / "gate.yaml"
    gate.write_text(GATE)
    return [
        PYTHON, "-m", "locust", "-f", LOCUSTFILES, "--headless", "--only-summary",
        "-u", "10", "-r", "10", "--user-mix", "OrderApiUser=4,FeedUser=1", "--host", side.url,
        "--chaos-profile", str(profile), "--chaos-proxy-api", f"127.0.0.1:{side.api}",
        "--gate", str(gate), "--results-dir", str(side.results), "--run-id", side.name,
        "--sut-pg-dsn", PG_DSN, "--sut-pg-schema", side.schema,
        "--pg-schema", f"{side.schema}_load",
    ]  # fmt: skip


def _verdicts(run_dir: Path) -> dict[str, str]:
    """Criterion -> pass / fail / skipped (n/a) / error (cannot measure), from junit.xml."""
    out = {}
    for case in ET.parse(run_dir / "junit.xml").iter("testcase"):
        status = "pass"
        for tag in ("failure", "error", "skipped"):
            if case.find(tag) is not None:
                status = tag
        out[case.get("name", "")] = status
    return out


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_processes_2_gives_one_run_directory_the_merged_windows_and_the_same_verdict(
    sides: tuple[Side, Side], tmp_path: Path
) -> None:
    one, two = sides
    reports = tmp_path / "reported"
    reports.mkdir()
    master_port = free_port()
    env = {**os.environ, "CB_TEST_PROCESSES_DIR": str(reports), "PYTHONUNBUFFERED": "1"}
    procs = {
        one.name: _args(one, tmp_path),
        two.name: [
            *_args(two, tmp_path),
            "--processes", "2", "--master-bind-host", "127.0.0.1",
            "--master-bind-port", str(master_port), "--master-port", str(master_port),
        ],
    }  # fmt: skip
    logs = {name: tmp_path / f"{name}.log" for name in procs}
    running = {
        name: subprocess.Popen(
            args, cwd=ROOT, env=env, stdout=logs[name].open("wb"), stderr=subprocess.STDOUT
        )
        for name, args in procs.items()
    }
    codes = {}
    for name, p in running.items():
        try:
            codes[name] = p.wait(timeout=180)
        except subprocess.TimeoutExpired:
            p.kill()
            raise AssertionError(f"{name} did not end:\n{logs[name].read_text()[-4000:]}") from None
    text = {name: log.read_text(errors="replace") for name, log in logs.items()}
    for t in text.values():
        assert "Traceback" not in t and "did not send their last windows" not in t, t[-6000:]

    # The same verdict: the latency failed p95 in both, every other criterion judged alike.
    assert codes == {"one": 1, "two": 1}, (codes, text["two"][-4000:])
    v_one, v_two = _verdicts(one.results / "one"), _verdicts(two.results / "two")
    assert v_one == v_two, (v_one, v_two)
    assert v_two["p95_regression"] == "failure", v_two
    assert JUDGED <= {c for c, s in v_two.items() if s in ("pass", "failure")}, v_two

    # One run directory, the master's: the workers made none.
    assert sorted(p.name for p in two.results.iterdir()) == ["two"]
    meta = json.loads((two.results / "two" / "meta.json").read_text())
    assert meta["mode"] == "master", meta["mode"]

    # Its windows are the sum of what the two workers reported, second by second.
    reported = [json.loads(p.read_text()) for p in sorted(reports.glob("*.json"))]
    assert len(reported) == 2 and all(r["counts"] for r in reported), reported
    expected: dict[tuple[int, str, str, str], int] = {}
    for r in reported:
        for key, count in r["counts"].items():
            second, rtype, name, phase = json.loads(key)
            k = (int(second), str(rtype), str(name), str(phase))
            expected[k] = expected.get(k, 0) + count
    merged: dict[tuple[int, str, str, str], int] = {}
    for w in load(two.results / "two").windows:
        k = (w.second, w.key.request_type, w.key.name, w.key.phase)
        merged[k] = merged.get(k, 0) + w.count
    assert merged == expected
    both = set.intersection(*({json.dumps(json.loads(k)) for k in r["counts"]} for r in reported))
    assert both, "no second and key that both workers loaded"
    phases = {k[3] for k in merged}
    assert {"baseline", "burst1"} <= phases, phases

    # Nothing left: neither forked worker, nor the master's proxy (routes and API closed).
    assert not [r["pid"] for r in reported if _alive(int(r["pid"]))]
    assert not port_open(two.pg_route) and not port_open(two.api)
