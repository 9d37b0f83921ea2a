"""Verdicts on an overloaded host (issue 11, live runs at load 11-20 on 2 cores): host slowness,
which moves every kind and no fault caused, fails neither the recovery time nor the absolute
ceilings of a burst; a fault that does act still fails them.

- ``fixtures/overload/redis10_load16``: a bench.verdicts run (+10 ms on the Redis route in both
  bursts, outside servers, the noise source on; load average 13.9 -> 16.2 around it, other
  engineers' tests on the same 2 cores): two of the five seconds after burst 1 were shared stalls
  of 80-440 ms on PG (the control) and REDIS alike, and recovery read 8.5 s against a truth of
  0 .. 1 s (the fault's effect ends with the burst);
- synthetic runs (chaosbench.analysis.synthetic): a host so slow that the baseline itself misses
  the p99 ceiling and the deadlines, A/A and with a real fault.
"""

from __future__ import annotations

import tarfile
from pathlib import Path

from chaosbench.analysis.analyze import analyze
from chaosbench.analysis.gate import load_gate
from chaosbench.analysis.outcome import Status
from chaosbench.analysis.rundir import load
from chaosbench.analysis.synthetic import KeySpec, SyntheticSpec, generate
from chaosbench.analysis.verdict import evaluate
from chaosbench.ground.errors import EXIT_GATE_FAILED, EXIT_PASS

HERE = Path(__file__).resolve().parent / "fixtures" / "overload"


def test_shared_stalls_after_a_burst_do_not_delay_its_recovery(tmp_path: Path) -> None:
    with tarfile.open(HERE / "redis10_load16.tar.gz") as tar:
        tar.extractall(tmp_path, filter="data")
    a = analyze(load(tmp_path / "redis10_load16"), load_gate(None))
    first = a.recoveries[0]
    assert first.affected == ["REDIS"], first  # the +10 ms showed in burst 1
    assert first.recovered and first.recovery_s is not None and first.recovery_s <= 1.0, first
    for r in a.recoveries:
        assert r.recovered and (r.recovery_s or 0.0) <= 1.0, r
        assert "PG" not in r.affected, r  # untouched by a Redis fault: never decides


def slow_host(**kw: object) -> SyntheticSpec:
    """Every kind slow, baseline included: REDIS p50 40 ms against its 50 ms deadline (about 26 %
    over it), HTTP p50 150 ms (p99 about 340 ms against the 250 ms ceiling)."""
    keys = [
        KeySpec("HTTP", "GET /", 60, 150.0, affected=False),
        KeySpec("PG", "select", 60, 20.0, deadline_ms=200.0, affected=False),
        KeySpec("REDIS", "GET", 60, 40.0, deadline_ms=50.0, affected=False),
    ]
    base: dict[str, object] = {"seed": 3, "keys": keys, "target": "sut_redis", "noise_share": 0.1}
    return SyntheticSpec(**{**base, **kw})  # type: ignore[arg-type]


def test_an_a_a_run_on_a_host_that_misses_the_ceilings_anyway_does_not_fail() -> None:
    v = evaluate(generate(slow_host(inject=False, added_ms=0.0)), load_gate(None), None)
    by_name = {r.name: r for r in v.results}
    for name in ("p99_ceiling", "deadline_misses"):
        r = by_name[name]
        assert r.status == Status.INCONCLUSIVE, (name, r.where, [c.note for c in r.cells])
        assert any("the host, not the faults" in c.note for c in r.cells)
    assert v.exit_code == EXIT_PASS, v.headline


def test_a_fault_that_adds_deadline_misses_still_fails_them() -> None:
    keys = [
        KeySpec("HTTP", "GET /", 60, 2.0, affected=False),
        KeySpec("PG", "select", 60, 1.5, affected=False),
        KeySpec("REDIS", "GET", 60, 1.0, deadline_ms=50.0),
    ]
    run = generate(SyntheticSpec(seed=3, keys=keys, target="sut_redis", added_ms=80.0))
    v = evaluate(run, load_gate(None), None)
    misses = next(r for r in v.results if r.name == "deadline_misses")
    assert misses.status == Status.FAIL, [c.note for c in misses.cells]
    assert v.exit_code == EXIT_GATE_FAILED
