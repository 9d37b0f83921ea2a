"""End to end: real `locust` runs against the reference system, judged by the gate.

The reference system's PostgreSQL traffic goes through the embedded fault proxy; a latency fault
on that route must fail a tight gate (exit 1) and pass a loose one (exit 0); runs whose bursts
inject nothing pass the default gate (A/A); with the integrity canary active, the orders
criterion fails.
"""

from __future__ import annotations

import json
import subprocess
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
import redis

from tests.conftest import PG_DSN, PYTHON, REDIS_URL, ROOT, Proc, free_port
from tests.sut.helpers import start_sut

pytestmark = pytest.mark.slow


@dataclass
class Target:
    url: str
    schema: str
    pg_route: int


@pytest.fixture
def target(spawn: Callable[..., Proc]) -> Iterator[Target]:
    """The reference system on a free port, its PostgreSQL behind a proxy route (created by the
    harness at init), with its own schema and Redis prefix, dropped afterwards."""
    schema = f"cbt_{uuid.uuid4().hex[:10]}"
    port, pg_route = free_port(), free_port()
    dsn = f"postgresql://postgres@127.0.0.1:{pg_route}/test"
    url = start_sut(spawn, port, dsn, REDIS_URL, schema, f"{schema}:", healthy=False)
    yield Target(url, schema, pg_route)
    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
        conn.execute(f"DROP SCHEMA IF EXISTS {schema}_load CASCADE")
    r = redis.Redis.from_url(REDIS_URL)
    for key in r.scan_iter(f"{schema}:*", count=1000):
        r.delete(key)


def run_locust(
    tmp_path: Path, target: Target, faults: str, gate: str, bursts: int = 1
) -> tuple[int, Path, str]:
    profile = tmp_path / "profile.yaml"
    profile.write_text(
        "enabled: true\nseed: 7\nallow: [127.0.0.1]\n"
        "phases: {warmup: 2s, baseline: 10s, burst_on: 6s, burst_off: 8s, "
        f"bursts: {bursts}, cooldown: 1s}}\n"
        "proxy:\n  routes:\n"
        f"    sut_pg: {{listen: 127.0.0.1:{target.pg_route}, upstream: 127.0.0.1:5432}}\n"
        f"faults:\n{faults}"
    )
    run_id = f"e2e-{uuid.uuid4().hex[:8]}"
    args = [
        PYTHON, "-m", "locust", "-f", "locustfiles/gateway_api.py", "--headless",
        "-u", "12", "-r", "12", "--host", target.url, "--only-summary",
        "--chaos-profile", str(profile), "--chaos-proxy-api", f"127.0.0.1:{free_port()}",
        "--gate", gate, "--results-dir", str(tmp_path / "runs"), "--run-id", run_id,
        "--sut-pg-schema", target.schema, "--pg-schema", f"{target.schema}_load",
    ]  # fmt: skip
    # one stream, as a terminal shows it (Locust's summary is on stderr, the verdict on stdout)
    out = subprocess.run(
        args, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, timeout=180
    )
    text = out.stdout
    assert "Traceback" not in text, text[-4000:]
    (tmp_path / "console.txt").write_text(out.stdout)
    return out.returncode, tmp_path / "runs" / run_id, text


def verdicts(run_dir: Path) -> dict[str, str]:
    """Criterion name -> pass / fail / skipped, from junit.xml (one testcase per criterion)."""
    tree = ET.parse(run_dir / "junit.xml")
    out = {}
    for case in tree.iter("testcase"):
        if case.find("failure") is not None or case.find("error") is not None:
            out[case.get("name", "")] = "fail"
        elif case.find("skipped") is not None:
            out[case.get("name", "")] = "skipped"
        else:
            out[case.get("name", "")] = "pass"
    return out


LATENCY = "  - {name: pg_latency, type: latency, route: sut_pg, latency_ms: 150}\n"


def test_latency_fault_fails_a_tight_gate(tmp_path: Path, target: Target) -> None:
    code, run_dir, text = run_locust(tmp_path, target, LATENCY, "gates/tight.yaml")
    assert code == 1, text[-4000:]
    v = verdicts(run_dir)
    assert any(name.startswith("p95_regression") and s == "fail" for name, s in v.items()), v
    assert (run_dir / "report.md").is_file() and (run_dir / "report.html").is_file()
    assert "report" in text  # the console names the report


def test_latency_fault_passes_a_loose_gate(tmp_path: Path, target: Target) -> None:
    code, run_dir, text = run_locust(tmp_path, target, LATENCY, "gates/loose.yaml")
    assert code == 0, text[-4000:]
    # the console ends with the verdict block, after Locust's summary, and the exit code it gave
    lines = (tmp_path / "console.txt").read_text().rstrip().splitlines()
    assert lines[-1] == "chaosbench: exit code 0 (the gate passed)", lines[-20:]
    verdict = max(i for i, ln in enumerate(lines) if ln.startswith("chaosbench verdict: "))
    summary = max(i for i, ln in enumerate(lines) if "Aggregated" in ln)
    assert summary < verdict, lines[-40:]
    assert all(ln.startswith(("  ", "chaosbench")) for ln in lines[verdict:]), lines[verdict:]
    findings = json.loads((run_dir / "findings.json").read_text())
    assert isinstance(findings, (list, dict))


def test_a_a_bursts_without_faults_pass(tmp_path: Path, target: Target) -> None:
    code, run_dir, text = run_locust(tmp_path, target, "  []\n", "gates/default.yaml", bursts=2)
    assert code == 0, text[-4000:]
    v = verdicts(run_dir)
    assert not [n for n, s in v.items() if s == "fail"], v


def test_integrity_canary_fails_the_orders_criterion(tmp_path: Path, target: Target) -> None:
    canary = (
        "  - {name: canary, type: integrity_canary, "
        f"schema: {target.schema}, action: delete, count: 2}}\n"
    )
    code, run_dir, text = run_locust(tmp_path, target, canary, "gates/loose.yaml")
    assert code == 1, text[-4000:]
    v = verdicts(run_dir)
    assert any(name.startswith("orders") and s == "fail" for name, s in v.items()), v
