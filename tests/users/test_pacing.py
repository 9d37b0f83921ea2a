"""Open-model pacing: a 1 s server stall shows up in the latencies (coordinated omission
corrected), where a closed-model user hides it."""

from __future__ import annotations

from chaosbench.users.deadlines import parse_deadlines
from chaosbench.users.pacing import Pacer
from tests.users.conftest import run_script


def test_stall_shows_in_paced_latencies_but_not_closed() -> None:
    paced = run_script("pacing", "paced")
    closed = run_script("pacing", "closed")
    assert paced["failures"] == 0 and closed["failures"] == 0
    assert paced["types"] == ["HTTP"] and paced["names"] == ["GET /ping/[n]"]
    assert paced["context"]["paced"] is True and paced["context"]["deadline_ms"] == 250.0
    assert "schedule_lag_ms" in paced["context"]
    assert paced["max_lag_ms"] >= 800  # late starts are counted
    assert paced["p99"] >= 800  # the stall is in the percentiles ...
    assert closed["p99"] < 400  # ... where the closed model hides it in one sample
    assert closed["max"] >= 900 and closed["over_900"] == 1
    assert "paced" not in closed["context"]


def test_pacer_schedule_and_lag() -> None:
    pacer = Pacer(rate=100.0)
    first = pacer.claim()
    assert first is not None and first.lag_ms < 5
    assert pacer.claim() is None  # later operations of the iteration start when they start
    assert 0 < pacer.wait() <= 0.0101
    # behind schedule: the next iteration starts at once and carries its lateness
    pacer._next = pacer._next - 0.5  # type: ignore[operator]
    late = pacer.claim()
    assert late is not None and 480 < late.lag_ms < 600 and pacer.late_starts == 1
    assert pacer.wait() == 0.0


def test_deadlines_defaults_and_overrides() -> None:
    d = parse_deadlines("PG=150, redis=20 ,POST /api/orders=300")
    assert d.for_request("PG", "read order") == 150
    assert d.for_request("REDIS", "GET") == 20
    assert d.for_request("HTTP", "POST /api/orders") == 300
    assert d.for_request("HTTP", "GET /health") == 500
    assert d.for_request("WS", "message quote") == 1000
    assert d.largest("PG") == 300
    scoped = parse_deadlines("PG read order=20")
    assert scoped.for_request("PG", "read order") == 20
    assert scoped.for_request("PG", "update order") == 200


def test_bad_deadline_specs_are_one_line_option_errors() -> None:
    import pytest

    from chaosbench.ground.errors import OptionError

    for spec, needle in [("PG=abc", "'abc'"), ("PG", "NAME=MILLISECONDS"), ("WS=-1", "greater")]:
        with pytest.raises(OptionError, match=needle) as err:
            parse_deadlines(spec)
        assert "\n" not in str(err.value) and "--deadlines" in str(err.value)
