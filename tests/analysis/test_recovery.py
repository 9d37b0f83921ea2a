"""Recovery per burst: detection, recovery time within a second of the truth, RTOs."""

from __future__ import annotations

import socket

import pytest

from chaosbench.analysis.hdr import from_values_us
from chaosbench.analysis.limits import RecoveryTime
from chaosbench.analysis.model import Window, WindowKey
from chaosbench.analysis.recovery import recoveries, rtos
from chaosbench.analysis.stats import WindowTable
from chaosbench.analysis.synthetic import SyntheticSpec, generate
from chaosbench.ground.journal import JournalRecord


@pytest.mark.parametrize(("seed", "lag"), [(1, 4), (2, 4), (3, 7), (4, 0), (5, 12)])
def test_recovery_time_within_one_second(seed: int, lag: int) -> None:
    run = generate(SyntheticSpec(seed=seed, lag_s=lag))
    recs = recoveries(WindowTable(run), run, RecoveryTime())
    assert [r.burst for r in recs] == [1, 2]
    for r in recs:
        assert r.recovered and r.recovery_s is not None
        assert abs(r.recovery_s - lag) <= 1.0, r
        assert r.detection_s is not None and r.detection_s <= 1.0
        assert r.slowest in ("HTTP", "PG")


def test_not_recovered_when_the_effect_outlasts_the_gap() -> None:
    run = generate(SyntheticSpec(seed=6, lag_s=40, burst_off_s=30))
    recs = recoveries(WindowTable(run), run, RecoveryTime())
    assert recs[0].recovered is False and recs[0].recovery_s is None
    assert "not back in band" in recs[0].note


def test_aa_run_has_nothing_to_detect() -> None:
    run = generate(SyntheticSpec(seed=7, added_ms=0.0))
    recs = recoveries(WindowTable(run), run, RecoveryTime())
    assert all(r.recovered and r.recovery_s == 0.0 for r in recs)


def test_errors_alone_delay_recovery() -> None:
    run = generate(SyntheticSpec(seed=8, added_ms=0.0, burst_error_rate=0.5, lag_s=6))
    recs = recoveries(WindowTable(run), run, RecoveryTime())
    assert all(r.recovered and abs((r.recovery_s or 0) - 6) <= 1 for r in recs)


def test_a_kind_that_goes_silent_has_not_recovered() -> None:
    run = generate(SyntheticSpec(seed=9, added_ms=0.0))
    burst2 = next(p for p in run.phases if p.label == "burst2")
    # PG stops answering from burst 1 on: its windows vanish.
    b1 = next(p for p in run.phases if p.label == "burst1").start
    run.windows = [w for w in run.windows if not (w.key.request_type == "PG" and w.second >= b1)]
    recs = recoveries(WindowTable(run), run, RecoveryTime())
    assert recs[0].recovered is False and recs[0].slowest == "PG"
    assert recs[0].detection_s is not None and recs[0].detection_s <= 1
    assert burst2.burst == 2


def test_hold_period_restarts_on_a_relapse() -> None:
    run = generate(SyntheticSpec(seed=10, lag_s=0))
    end = int(next(p for p in run.phases if p.label == "burst1").end)
    # One slow second 3 s after the burst: a hold that tolerates one bad second (the default)
    # is not broken by it; one that tolerates none confirms recovery only after it.
    for w in run.windows:
        if w.second in (end + 3, end + 4) and w.key.request_type == "HTTP":
            w.histogram = from_values_us([500_000] * w.count)
    recs = recoveries(WindowTable(run), run, RecoveryTime(hold_s=5, hold_misses=0))
    assert recs[0].recovery_s == pytest.approx(5.0)
    recs = recoveries(WindowTable(run), run, RecoveryTime(hold_s=5, hold_misses=2))
    assert recs[0].recovery_s == pytest.approx(0.0)


def test_rto_from_the_journal() -> None:
    run = generate(SyntheticSpec(seed=1, rto_s=[3.5, 12.0]))
    got = rtos(run)
    assert [(r.burst, r.rto_s, r.type) for r in got] == [
        (1, 3.5, "kill_restart"),
        (2, 12.0, "kill_restart"),
    ]
    # Inject records carry "not measured yet", revert records the measured value.
    injects = [r for r in run.journal if r.kind == "inject"]
    reverts = [r for r in run.journal if r.kind == "revert"]
    for inj, rev in zip(injects, reverts, strict=True):
        rev.measures_rto, rev.rto_s, inj.rto_s = True, inj.rto_s, None
    assert [r.rto_s for r in rtos(run)] == [3.5, 12.0]
    reverts[0].rto_s = None  # never answered
    assert [r.rto_s for r in rtos(run)] == [None, 12.0]
    # the RTO is read from the typed field, not from the free-form details
    reverts[1].details["rto_s"] = 99.0
    assert [r.rto_s for r in rtos(run)] == [None, 12.0]


def test_a_journal_written_before_the_typed_rto_field_still_loads() -> None:
    old = {
        "kind": "revert",
        "name": "kill_pg",
        "type": "process_restart",
        "burst": 1,
        "start": 1.0,
        "end": 2.0,
        "details": {"rto_s": 4.5, "old_pid": 1},
    }
    rec = JournalRecord.from_dict(old)
    assert rec.measures_rto and rec.rto_s == 4.5
    never = JournalRecord.from_dict({**old, "details": {"rto_s": None}})
    assert never.measures_rto and never.rto_s is None
    plain = JournalRecord.from_dict({**old, "details": {}})
    assert not plain.measures_rto and plain.rto_s is None
    assert JournalRecord.from_dict(rec.to_dict()) == rec


def test_window_model_is_what_recovery_reads() -> None:
    # A guard that the synthetic windows use the shared contract types.
    w = generate(SyntheticSpec(seed=1)).windows[0]
    assert isinstance(w, Window) and isinstance(w.key, WindowKey)


def test_the_scheduler_fills_the_typed_rto_field_that_the_analysis_reads() -> None:
    """A real process_restart (restart_cmd ``true``, health: a listening loopback socket) run
    by the real scheduler: its records carry ``measures_rto``/``rto_s``, and rtos() finds it."""
    from chaosbench.chaos.faults import FaultContext
    from chaosbench.chaos.profile import parse_profile
    from chaosbench.chaos.scheduler import Scheduler
    from chaosbench.ground.events import ChaosEvents
    from chaosbench.ground.timeline import PhaseTimeline

    with socket.socket() as srv:
        srv.bind(("127.0.0.1", 0))
        srv.listen(8)
        port = srv.getsockname()[1]
        text = (
            "seed: 1\n"
            "phases: {warmup: 0, baseline: 0.05s, burst_on: 0.3s, burst_off: 0.05s, bursts: 1,"
            " cooldown: 0}\n"
            "faults:\n"
            f"  - {{name: kill, type: process_restart, restart_cmd: 'true',"
            f" health_addr: '127.0.0.1:{port}'}}\n"
        )
        s = Scheduler(
            parse_profile(text, "t.yaml"),
            FaultContext(),
            timeline=PhaseTimeline(),
            events=ChaosEvents(),
        )
        s.run()
    records = [r for r in s.journal if r.kind in ("inject", "revert")]
    assert [r.kind for r in records] == ["inject", "revert"]
    assert all(r.measures_rto and r.status == "ok" for r in records), records
    revert = records[-1]
    assert revert.rto_s is not None and revert.rto_s >= 0
    phases = [r for r in s.journal if r.kind == "phase"]
    run = generate(SyntheticSpec(seed=1))
    run.journal = [*phases, *records]
    (got,) = rtos(run)
    assert (got.name, got.burst, got.rto_s) == ("kill", 1, revert.rto_s)
