"""Locust's own ``--processes 2`` with the harness: one command, a master and two forked workers.

The same short profile (the reference system's PostgreSQL route down in the burst) runs once in one
process and once with ``--processes 2``, side by side, each against its own reference system. The
forked run has one run directory (the master's), whose windows are the sum of what the two workers
reported (tests/users/dist/processes_hook.py records it), its verdict judges the same criteria
with the same results as the one-process run's, and no process of it is left when it exits.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
import redis

from chaosbench.analysis.rundir import load
from tests.conftest import PG_DSN, PYTHON, REDIS_URL, ROOT, Proc, free_port, port_open, wait_until
from tests.sut.helpers import start_sut
from tests.users.conftest import Sut

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
  p95_regression: {enabled: false}  # latencies on a loaded shared machine: not what is compared
  p99_ceiling: {limit: 20000}
  deadline_misses: {limit: 1.0}
  error_rate: {limit: 0.05}         # the PostgreSQL route down: order placements fail, far over
  baseline_error_rate: {limit: 0.2}
  recovery_time: {enabled: false}   # a 3 s recovery says little on a loaded machine
  stream_data_loss: {limit: 0.10}
"""
ORDERS = "POST /api/orders"
#: judged in both runs (not n/a, not "cannot measure")
JUDGED = {"error_rate", "baseline_error_rate", "orders", "stream_data_loss", "p99_ceiling"}


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
        "faults:\n  - {name: pg_down, type: route_down, route: sut_pg}\n"
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


Key = tuple[int, str, str, str]  # second, request type, name, phase


def _reported(reports: Path) -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in sorted(reports.glob("*.json"))]


def _sum_reported(reported: list[dict[str, Any]]) -> dict[Key, int]:
    """Per (second, type, name, phase): the counts the workers sent, added up."""
    out: dict[Key, int] = {}
    for r in reported:
        for key, count in r["counts"].items():
            second, rtype, name, phase = json.loads(key)
            k = (int(second), str(rtype), str(name), str(phase))
            out[k] = out.get(k, 0) + count
    return out


def _merged(run_dir: Path) -> dict[Key, int]:
    """Per (second, type, name, phase): the counts of the run directory's windows."""
    out: dict[Key, int] = {}
    for w in load(run_dir).windows:
        k = (w.second, w.key.request_type, w.key.name, w.key.phase)
        out[k] = out.get(k, 0) + w.count
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

    # The same verdict: every criterion judged alike (the route down fails the error rate).
    v_one, v_two = _verdicts(one.results / "one"), _verdicts(two.results / "two")
    assert codes["one"] == codes["two"] in (0, 1), (codes, v_one, v_two, text["two"][-3000:])
    assert v_one == v_two, (v_one, v_two)
    assert v_two["error_rate"] == "failure", (v_two, text["two"][-3000:])
    assert JUDGED <= {c for c, s in v_two.items() if s in ("pass", "failure")}, v_two

    # One run directory, the master's: the workers made none.
    assert sorted(p.name for p in two.results.iterdir()) == ["two"]
    meta = json.loads((two.results / "two" / "meta.json").read_text())
    assert meta["mode"] == "master", meta["mode"]

    # Its windows are the sum of what the two workers reported, second by second.
    reported = _reported(reports)
    assert len(reported) == 2 and all(r["counts"] for r in reported), reported
    merged = _merged(two.results / "two")
    assert merged == _sum_reported(reported)
    both = set.intersection(*({json.dumps(json.loads(k)) for k in r["counts"]} for r in reported))
    assert both, "no second and key that both workers loaded"
    phases = {k[3] for k in merged}
    assert {"baseline", "burst1"} <= phases, phases

    # the master's fault reached the workers' load: most order placements failed in the burst
    def failed_share(phase: str) -> float:
        ws = [
            w for w in merged_windows if w.key.phase == phase and w.key.name == "POST /api/orders"
        ]
        return sum(w.failures for w in ws) / max(1, sum(w.count for w in ws))

    merged_windows = load(two.results / "two").windows
    assert failed_share("burst1") > 0.5 > failed_share("baseline"), (
        failed_share("burst1"),
        failed_share("baseline"),
    )

    # Nothing left: neither forked worker, nor the master's proxy (routes and API closed).
    assert not [r["pid"] for r in reported if _alive(int(r["pid"]))]
    assert not port_open(two.pg_route) and not port_open(two.api)


#: restores SIGINT's default (a child of a background job inherits it ignored), then execs
BOOT = (
    "import os, signal, sys; signal.signal(signal.SIGINT, signal.SIG_DFL); os.setsid(); "
    "os.execv(sys.argv[1], sys.argv[1:])"
)  # and a session (a process group) of its own, as a terminal gives it


def _forked_run(sut: Sut, tmp_path: Path, run_id: str, *extra: str) -> tuple[Proc, Path, Path]:
    """``locust --processes 2`` in a session of its own; its process, run dir and reports. Its
    master port is in every forked process's command line (``_running``)."""
    reports = tmp_path / f"reported-{run_id}"
    reports.mkdir()
    port = free_port()
    args = [
        PYTHON, "-c", BOOT, PYTHON, "-m", "locust", "-f", LOCUSTFILES, "--headless",
        "--only-summary", "-u", "6", "-r", "6", "--user-mix", "OrderApiUser=2,FeedUser=1",
        "--host", sut.url, "--processes", "2", "--master-bind-host", "127.0.0.1",
        "--master-bind-port", str(port), "--master-port", str(port),
        "--results-dir", str(tmp_path / "runs"), "--run-id", run_id, "--sut-pg-dsn", "none",
        "--pg-schema", f"{sut.tag}_load", *extra,
    ]  # fmt: skip
    env = {"CB_TEST_PROCESSES_DIR": str(reports)}
    proc = Proc(args, tmp_path / f"{run_id}.log", env)
    return proc, tmp_path / "runs" / run_id, reports


def _running(proc: Proc) -> list[int]:
    """The processes (master and forked workers) whose command line is ``proc``'s locust's."""
    wanted = "\0".join(proc.args[3:]).encode()
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if wanted in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                pass  # gone meanwhile
    return found


@pytest.mark.parametrize("sig", ["SIGINT to every process", "SIGTERM to the master"])
def test_processes_2_interrupted_keeps_every_workers_last_windows(
    sut: Sut, tmp_path: Path, sig: str
) -> None:
    proc, run_dir, reports = _forked_run(sut, tmp_path, "sig", "--chaos-profile", "none")
    try:
        windows = run_dir / "windows.jsonl"
        wait_until(lambda: windows.exists() and windows.stat().st_size > 0, timeout=60)
        wait_until(lambda: len(_reported(reports)) == 2, timeout=30)
        if sig.startswith("SIGINT"):  # Ctrl-C in a terminal: the whole process group
            os.killpg(proc.popen.pid, signal.SIGINT)
        else:
            proc.popen.send_signal(signal.SIGTERM)
        code = proc.popen.wait(90)
    finally:
        proc.stop()
    log = proc.log.read_text(errors="replace")
    name = sig.split()[0]
    assert code == 2, log[-4000:]
    assert "Traceback" not in log and "KeyboardInterrupt" not in log, log[-4000:]
    assert "did not send their last windows" not in log, log[-4000:]
    lines = [ln for ln in log.splitlines() if ln.startswith("chaosbench: interrupted")]
    assert lines == [
        f"chaosbench: interrupted by {name}: faults reverted, the run is incomplete "
        f"(exit 2; report in {run_dir})"
    ], log[-4000:]
    assert _merged(run_dir) == _sum_reported(_reported(reports)) != {}
    wait_until(lambda: not _running(proc), timeout=10)


def test_processes_2_refused_at_init_leaves_no_worker(sut: Sut, tmp_path: Path) -> None:
    missing = tmp_path / "missing.yaml"
    proc, run_dir, _ = _forked_run(sut, tmp_path, "refused", "--chaos-profile", str(missing))
    try:
        code = proc.popen.wait(90)
    finally:
        proc.stop()
    log = proc.log.read_text(errors="replace")
    assert code == 2, log[-4000:]
    assert f"chaosbench: {missing}: cannot read" in log and "Traceback" not in log, log[-4000:]
    assert not run_dir.exists()
    # Locust's own master leaves its forked workers waiting for its heartbeat; ours die with it
    wait_until(lambda: not _running(proc), timeout=10)
