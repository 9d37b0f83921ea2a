"""The operation timer a user reuses for every operation (no timer object per operation)."""

from __future__ import annotations

from tests.users.conftest import run_script


def test_a_reused_timer_fires_only_for_an_operation_that_is_late() -> None:
    r = run_script("op_timer")
    assert r["quick"] > 10 and r["quick_failures"] == []
    assert r["late"] is False
    assert r["late_event"]["exception"] == "OperationTimeout: T late: no answer in 0.3 s"
    assert r["late_event"]["response_time"] >= 300
    assert r["late_event"]["context"]["deadline_ms"] > 0
    assert r["after"] == [True] * 20
    assert r["rearmed"] is False
    assert r["rearmed_event"]["exception"] == "OperationTimeout: T rearmed: no answer in 0.4 s"
    assert r["rearmed_event"]["response_time"] >= 400
    assert r["raised"] == "T raised: no answer in 0.3 s" and r["raised_events"] == 1
