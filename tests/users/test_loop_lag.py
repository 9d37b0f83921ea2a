"""Nothing the users do blocks the gevent loop: pg_sleep(1), a Redis CLIENT PAUSE of 1 s and a
stalled WebSocket, concurrently, delay the other greenlets by less than 50 ms."""

from __future__ import annotations

from tests.users.conftest import run_script


def test_blocking_servers_do_not_block_the_loop(
    pg_dsn: str, redis_url: str, key_prefix: str
) -> None:
    r = run_script("loop_lag", pg_dsn, redis_url, key_prefix)
    if r["max_lag_ms"] >= 50:
        # A blocked loop lags ~1000 ms on every run; a one-off lag can also be the OS not
        # scheduling this process on a busy shared machine: one more run tells them apart.
        r = run_script("loop_lag", pg_dsn, redis_url, key_prefix + "b")
    assert r["failures"] == []
    # the operations really waited on their servers ...
    assert r["pg_s"] >= 0.95
    assert r["redis_s"] >= 0.8
    assert r["ws_max_delivery_ms"] >= 900
    # ... while the probe kept ticking on time
    assert r["samples"] > 50
    assert r["max_lag_ms"] < 50
