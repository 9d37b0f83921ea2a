"""The harness freezes the heap when spawning completes (short GC pauses with thousands of users),
collects what a ramp down left frozen, and unfreezes at test_stop."""

from __future__ import annotations

from tests.users.conftest import run_script


def test_heap_frozen_at_spawning_complete_and_unfrozen_at_stop() -> None:
    r = run_script("gc_freeze")
    assert r["frozen_at_6"] > 1000, "the live objects are frozen once all users run"
    assert r["kept_while_frozen"], "a frozen cycle is out of the collector's way"
    assert r["collected_at_ramp_down"], "a ramp down collects what was frozen"
    assert r["frozen_at_2"] > 1000, "and freezes again"
    assert r["frozen_after_stop"] == 0, "test_stop unfreezes"
    assert r["threshold_running"] == [10_000, 9, 8], "the young threshold raised while running"
    assert r["threshold_after_stop"] == [500, 9, 8], "and put back at test_stop"
