"""The fault catalogue keeps the envelope apart from each fault's own settings."""

from __future__ import annotations

from chaosbench.chaos.faults import catalogue
from chaosbench.chaos.profile.model import ENVELOPE_KEYS


def test_catalogue_has_every_layer() -> None:
    names = set(catalogue())
    for expected in (
        "latency", "bandwidth", "stall", "reset_peer", "slicer", "limit_data", "slow_close",
        "route_down", "http_error", "http_delay", "ws_drop", "ws_delay", "ws_corrupt",
        "ws_reorder", "pg_terminate_backends", "pg_lock_contention", "pg_connection_exhaustion",
        "pg_slow_queries", "redis_client_pause", "redis_client_kill", "redis_memory_pressure",
        "process_stop", "process_restart", "cpu_hog", "memory_balloon", "dns_failure",
        "clock_skew", "integrity_canary",
    ):  # fmt: skip
        assert expected in names, expected


def test_no_fault_setting_shadows_an_envelope_key() -> None:
    """A setting named like an envelope key (name, bursts, start, ...) could never be set from a
    profile: the scheduler takes those keys first."""
    clashes = {
        t: sorted(set(cls.Settings.model_fields) & ENVELOPE_KEYS) for t, cls in catalogue().items()
    }
    assert {t: c for t, c in clashes.items() if c} == {}
