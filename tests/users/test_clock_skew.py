"""clock_skew moves the clients' timestamps, never the recorder's windows."""

from __future__ import annotations

from tests.users.conftest import run_script


def test_clock_skew_moves_client_timestamps_not_the_recorder() -> None:
    r = run_script("clock_skew")
    skew_ms = 60_000
    assert r["before_ms"] < 5_000  # loopback delivery
    assert abs(r["client_minus_real_s"] * 1000 - skew_ms) < 50
    # The WS user's delivery latency is computed on the skewed client clock ...
    assert skew_ms - 5_000 < r["skewed_ms"] < skew_ms + 5_000
    assert r["after_ms"] < 5_000 and r["skew_after_revert"] == 0.0
    # ... but a sample lands in the second it started in by the real clock, and its window is
    # not closed at once (the recorder's clock is not 60 s ahead).
    assert r["plain_seconds"] == [r["real_second"]]
    assert r["closed_at_once"] == []
