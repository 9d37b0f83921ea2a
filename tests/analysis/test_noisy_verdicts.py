"""Verdicts that hold on a noisy machine (issue 11): synthetic runs with host drift, neighbour
noise and a known truth, judged by the default gate.

The services are 1-3 ms ones, as in the issue's measurements (nginx, a pgbench database, plain
Redis): 2 ms of host drift is +100 % there. Every run is reproducible by its seed.
"""

from __future__ import annotations

import math

import pytest

from chaosbench.analysis.analyze import analyze
from chaosbench.analysis.cohorts import cohorts, kinds_of_target
from chaosbench.analysis.criteria import judge_effect
from chaosbench.analysis.gate import gate_from_dict, load_gate
from chaosbench.analysis.model import Integrity, RunData
from chaosbench.analysis.outcome import Status
from chaosbench.analysis.synthetic import KeySpec, SyntheticSpec, cut, generate
from chaosbench.analysis.verdict import evaluate
from chaosbench.ground.errors import EXIT_GATE_FAILED, EXIT_PASS

CLEAN = Integrity(orders_acknowledged=500, orders_stored=500, checked=True, ws_messages=2000)
SEEDS = range(50)


def small(redis_affected: bool = True, **http: float) -> list[KeySpec]:
    """A 1-3 ms system: nginx-like HTTP, a pgbench-like PG, plain Redis (the fault's target)."""
    return [
        KeySpec("HTTP", "GET /", 80, 2.0, affected=False, **http),  # type: ignore[arg-type]
        KeySpec("PG", "select", 60, 1.5, affected=False),
        KeySpec("REDIS", "GET", 60, 1.0, affected=redis_affected),
    ]


def noisy(seed: int, **kw: object) -> SyntheticSpec:
    """Host drift of +2 ms from a second not aligned with the bursts, and 10 % of the seconds
    10 ms slower on every kind (neighbour noise); the fault, when any, on the Redis route."""
    base: dict[str, object] = {
        "seed": seed,
        "keys": small(),
        "target": "sut_redis",
        "drift_ms": 2.0,
        "drift_at_s": 20 + (seed * 7) % 60,
        "noise_share": 0.1,
        "noise_ms": 10.0,
        "integrity": CLEAN,
    }
    return SyntheticSpec(**{**base, **kw})  # type: ignore[arg-type]


def regression_cells(run: RunData) -> dict[str, object]:
    v = evaluate(run, load_gate(None), None)
    return {c.where: c for r in v.results if r.name == "p95_regression" for c in r.cells}


# --- the outcomes ------------------------------------------------------------------------


def test_aa_with_drift_and_noise_passes_the_default_gate_in_50_of_50_seeds() -> None:
    failed = []
    for seed in SEEDS:
        run = generate(noisy(seed, keys=small(False), added_ms=0.0, inject=False))
        v = evaluate(run, load_gate(None), None)
        if v.status != Status.PASS or v.exit_code != EXIT_PASS:
            failed.append((seed, v.headline, [(r.name, r.where) for r in v.results if r.status]))
    assert not failed, failed


def test_ten_ms_on_one_kind_fails_the_default_gate_in_50_of_50_seeds() -> None:
    passed = []
    for seed in SEEDS:
        run = generate(noisy(seed, added_ms=10.0, lag_s=0))
        v = evaluate(run, load_gate(None), None)
        reg = next(r for r in v.results if r.name == "p95_regression")
        if v.exit_code != EXIT_GATE_FAILED or reg.status != Status.FAIL or "REDIS" not in reg.where:
            passed.append((seed, v.headline, reg.status, reg.where))
    assert not passed, passed


@pytest.mark.parametrize("seed", range(10))
def test_a_50_ms_fault_is_reported_within_10_percent(seed: int) -> None:
    a = analyze(generate(noisy(seed, added_ms=50.0, lag_s=0)), load_gate(None))
    redis = [c for c in a.versus(["burst"], "kind", 95.0) if c.scope == "REDIS"]
    assert len(redis) == 2
    for c in redis:
        assert c.effect_ms is not None and c.method == "control" and "control PG" in c.reference
        assert c.effect_ms.value == pytest.approx(50.0, rel=0.10), c
        assert c.effect_ms.low <= c.effect_ms.value <= c.effect_ms.high


@pytest.mark.parametrize("seed", range(10))
@pytest.mark.parametrize("linger", [0, 6])
def test_recovery_time_is_the_truth_within_one_second(seed: int, linger: int) -> None:
    a = analyze(generate(noisy(seed, added_ms=50.0, lag_s=linger)), load_gate(None))
    assert len(a.recoveries) == 2
    for r in a.recoveries:
        assert r.recovered and r.recovery_s is not None, r
        assert abs(r.recovery_s - linger) <= 1.0, r
        assert r.slowest == "REDIS" and r.affected == ["REDIS"], r
        assert r.resolution_s == 1.0
        if linger == 0:
            assert r.recovery_s <= 1.0


@pytest.mark.parametrize("seed", range(10))
def test_a_kind_the_fault_did_not_affect_never_decides_recovery(seed: int) -> None:
    # HTTP (touched in principle: it goes through the system under test) is noisy on its own
    # (a quarter of its seconds 8 ms slower, before, during and after the bursts); the Redis
    # fault ends with the burst.
    keys = small(slow_share=0.25, slow_ms=8.0)
    a = analyze(generate(noisy(seed, keys=keys, added_ms=50.0, lag_s=0)), load_gate(None))
    for r in a.recoveries:
        assert r.recovered and r.recovery_s is not None and r.recovery_s <= 1.0, r
        assert "HTTP" not in r.affected and r.slowest == "REDIS", r


def test_a_run_time_cut_recovery_is_not_measurable_and_not_exit_1() -> None:
    # The fault lingers 12 s; the run ends 5 s after burst 2 (--run-time shorter than the
    # profile): burst 2's recovery cannot be measured, burst 1's is.
    spec = noisy(3, added_ms=50.0, lag_s=12)
    full = generate(spec)
    b2 = next(p for p in full.phases if p.label == "burst2")
    run = cut(generate(spec), b2.end - full.started + 5)
    v = evaluate(run, load_gate(None), None)
    rec = next(r for r in v.results if r.name == "recovery_time")
    cells = {c.where: c for c in rec.cells}
    assert cells["burst2"].status == Status.SKIPPED and "not measurable" in cells["burst2"].note
    assert cells["burst1"].status == Status.PASS and abs(cells["burst1"].value - 12) <= 1
    assert rec.status == Status.PASS and "not measurable" in rec.detail
    assert v.analysis is not None and not v.analysis.recoveries[1].measurable
    # Only the real 50 ms regression fails the gate, not the cut.
    assert [r.name for r in v.results if r.status == Status.FAIL] == ["p95_regression"]


# --- the defects measured in issue 11 ----------------------------------------------------


def test_aa_flap_two_ms_of_host_drift_is_not_a_regression() -> None:
    """Issue 11: HTTP p95 2.26 -> 4.05 ms in an A/A burst (the host got slower between the
    baseline and the burst) failed the gate at +79 % .. +233 %."""
    spec = noisy(5, keys=small(False), added_ms=0.0, inject=False, noise_share=0.0)
    spec.drift_at_s = spec.warmup_s + spec.baseline_s  # the host slows down with burst 1
    run = generate(spec)
    cells = regression_cells(run)
    assert all(c.status == Status.PASS for c in cells.values()), cells  # type: ignore[attr-defined]
    # Without drift control and with a relative budget only (the old gate), the same run fails.
    old = gate_from_dict(
        {"drift": {"enabled": False}, "criteria": {"p95_regression": {"min_effect_ms": 0}}}
    )
    reg = next(r for r in evaluate(run, old, None).results if r.name == "p95_regression")
    assert reg.status == Status.FAIL and reg.value is not None and reg.value > 0.79


def test_a_blind_interval_is_inconclusive_not_a_pass() -> None:
    """Issue 11: under neighbour noise A/A intervals such as -44.8 % .. +323.5 % "passed": such
    a run would pass a real +200 % as well."""
    # As wide on a 3 ms p95 (-1.3 .. +9.7 ms) and on a 4 ms one: they hold "no change" and
    # twice both budgets (+30 %, +10 ms): inconclusive.
    assert judge_effect((-0.448, 3.235), (-1.3, 10.5), 0.15, 5.0) == Status.INCONCLUSIVE
    assert judge_effect((-0.778, 3.427), (-3.1, 13.7), 0.15, 5.0) == Status.INCONCLUSIVE
    # The same relative interval on a 2 ms p95 reaches +6.5 ms only: a +10 ms regression would
    # have shown, and one below +5 ms is not practically significant: a pass.
    assert judge_effect((-0.448, 3.235), (-0.9, 6.5), 0.15, 5.0) == Status.PASS
    # Shown small in one sense: a pass; large in both: a fail; in between: inconclusive.
    assert judge_effect((0.5, 3.0), (0.5, 4.0), 0.15, 5.0) == Status.PASS  # at most +4 ms
    assert judge_effect((-0.05, 0.12), (-1.0, 20.0), 0.15, 5.0) == Status.PASS  # at most +12 %
    assert judge_effect((0.2, 0.4), (6.0, 9.0), 0.15, 5.0) == Status.FAIL
    assert judge_effect((0.2, 0.4), (4.0, 9.0), 0.15, 5.0) == Status.INCONCLUSIVE  # maybe small
    assert judge_effect((-0.1, 0.25), (-1.0, 8.0), 0.15, 5.0) == Status.PASS  # sharp enough
    assert judge_effect((math.nan, 1.0), (0.0, 1.0), 0.15, 5.0) == Status.INCONCLUSIVE
    # A single kind under heavy noise: no control, the bracket is as noisy: inconclusive.
    keys = [KeySpec("PG", "select", 60, 1.5, affected=False)]
    run = generate(
        SyntheticSpec(
            seed=2, keys=keys, added_ms=0.0, noise_share=0.3, noise_ms=40.0, integrity=CLEAN
        )
    )
    reg = next(
        r for r in evaluate(run, load_gate(None), None).results if r.name == "p95_regression"
    )
    assert reg.status == Status.INCONCLUSIVE, (reg.value, reg.low, reg.high, reg.cells)


def test_false_recovery_http_is_never_named_for_a_redis_fault() -> None:
    """Issue 11: "HTTP was named as the kind that never recovered from a Redis fault"."""
    keys = small(slow_share=0.3, slow_ms=3.0)
    run = generate(noisy(8, keys=keys, added_ms=50.0, lag_s=0))
    a = analyze(run, load_gate(None))
    assert all(r.recovered and "HTTP" not in r.affected for r in a.recoveries)
    v = evaluate(run, load_gate(None), None)
    rec = next(r for r in v.results if r.name == "recovery_time")
    assert rec.status == Status.PASS and "HTTP" not in rec.detail


# --- cohorts -----------------------------------------------------------------------------


def test_cohorts_from_fault_targets() -> None:
    assert kinds_of_target("sut_pg") == {"PG", "HTTP", "WS"}
    assert kinds_of_target("127.0.0.1:6379") == {"REDIS", "HTTP", "WS"}
    assert kinds_of_target("api") == {"HTTP", "WS"}
    assert kinds_of_target("pid 4242") is None
    run = generate(noisy(1, added_ms=50.0))
    c = cohorts(run.journal, 1, None)
    assert c.touches("REDIS") and c.touches("HTTP") and not c.touches("PG")
    assert c.control_for("REDIS", ["HTTP", "PG", "REDIS"]) == ["PG"]
    # Declared in the gate: HTTP is a plain nginx beside the Redis under test.
    assert cohorts(run.journal, 1, ["HTTP"]).control_for("REDIS", ["HTTP", "PG", "REDIS"]) == [
        "HTTP",
        "PG",
    ]
    # An unknown target touches every kind but the declared ones; no faults touch nothing.
    for r in run.journal:
        r.target = "pid 4242"
    assert cohorts(run.journal, 1, None).control_for("REDIS", ["HTTP", "PG", "REDIS"]) == []
    assert cohorts(run.journal, 1, ["PG"]).control_for("REDIS", ["HTTP", "PG", "REDIS"]) == ["PG"]
    assert cohorts([], 1, None).control_for("REDIS", ["HTTP", "PG", "REDIS"]) == ["HTTP", "PG"]


def test_without_a_control_the_reference_brackets_the_burst() -> None:
    # An unknown target (a process) touches every kind: no control, a bracket. The host drift
    # (+2 ms on 1-3 ms services from the middle of the baseline on) cancels in the bracket of
    # burst 2 (the settled seconds of recovery 1 and recovery 2); the 20 ms fault is found.
    spec = noisy(4, added_ms=20.0, lag_s=0, target="pid 1", noise_share=0.0, drift_at_s=20)
    a = analyze(generate(spec), load_gate(None))
    cells = {(c.phase, c.scope): c for c in a.versus(["burst"], "kind", 95.0)}
    redis = cells["burst2", "REDIS"]
    assert redis.method == "bracket" and " and " in redis.reference
    assert redis.effect_ms is not None and redis.effect_ms.value == pytest.approx(20, rel=0.1)
    pg = cells["burst2", "PG"]
    assert pg.method == "bracket" and pg.effect_ms is not None
    assert abs(pg.effect_ms.value) < 0.5, pg


def test_a_sparse_kind_falls_back_to_merged_percentiles_against_its_control() -> None:
    # 4 requests a second: no second pairs (5 needed); the control's change is still taken off.
    # HTTP is declared a control in the gate (a plain nginx beside the Redis under test).
    keys = [
        KeySpec("HTTP", "GET /", 80, 2.0, affected=False),
        KeySpec("REDIS", "GET", 4, 1.0, affected=True),
    ]
    spec = noisy(6, keys=keys, added_ms=20.0, lag_s=0, noise_share=0.0, drift_at_s=35)
    a = analyze(generate(spec), gate_from_dict({"drift": {"control": ["HTTP"]}}))
    c = next(x for x in a.versus(["burst"], "kind", 95.0) if x.scope == "REDIS")
    assert c.method == "control" and "control HTTP" in c.reference and c.effect_ms is not None
    assert c.drift_ms == pytest.approx(2.0, abs=0.5)
    assert c.effect_ms.value == pytest.approx(20.0, abs=3.0)


def test_without_any_control_noise_never_fails_an_aa_run() -> None:
    # A fault on an unknown target touches every kind: no control, brackets only. Under the
    # same drift and neighbour noise an A/A run may be inconclusive (the noise cannot be
    # explained away), never a fail, and the default gate exits 0.
    for seed in range(10):
        run = generate(noisy(seed, keys=small(False), added_ms=0.0, target="pid 1"))
        v = evaluate(run, load_gate(None), None)
        assert v.exit_code == EXIT_PASS and v.status != Status.FAIL, (seed, v.headline)


def test_host_stalls_are_left_out_of_the_paired_comparison() -> None:
    """A CPU hog that takes the load generator 35 % of the time slows every kind in those
    seconds, each by its own amount (up to 60 ms): the difference in differences does not
    cancel that, and before such seconds were left out every A/A run of these 30 seeds was
    inconclusive and 22 of the +10 ms runs were too. The stalled seconds (the control over its
    calm limit) are left out on both sides now: A/A never fails and mostly passes, +10 ms never
    passes and mostly fails."""
    aa: dict[Status, int] = {}
    truth: dict[Status, int] = {}
    for seed in range(30):
        for added, counts in ((0.0, aa), (10.0, truth)):
            keys = small(added > 0)
            run = generate(
                noisy(seed, keys=keys, added_ms=added, lag_s=0, inject=added > 0,
                      stall_share=0.35, stall_ms=30.0, burst_on_s=10)
            )  # fmt: skip
            v = evaluate(run, load_gate(None), None)
            reg = next(r for r in v.results if r.name == "p95_regression")
            counts[reg.status] = counts.get(reg.status, 0) + 1
            if added and reg.status == Status.FAIL:
                assert "host-stall seconds left out" in reg.detail + " ".join(
                    c.note for c in reg.cells if c.where == reg.where
                )
    assert aa.get(Status.FAIL, 0) == 0 and aa.get(Status.PASS, 0) >= 15, aa
    assert truth.get(Status.PASS, 0) == 0 and truth.get(Status.FAIL, 0) >= 24, truth
