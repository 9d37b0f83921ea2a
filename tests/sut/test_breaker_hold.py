"""The breaker's hold (``--breaker-hold-s``, off by default): once a failing dependency answers
again, the breaker stays open that long more, so the effect of an outage outlasts it by a known
time (the lingering effect tests/analysis/test_live_noise.py measures recovery against)."""

from __future__ import annotations

import time

import pytest

from chaosbench.sut.backends.breaker import Breaker, Unavailable
from chaosbench.sut.config import Settings, parse_settings
from chaosbench.sut.errors import OptionError
from tests.conftest import wait_until


def closed(b: Breaker) -> bool:
    try:
        b.check()
    except Unavailable:
        return False
    return True


def test_the_first_success_after_failures_holds_the_breaker_open_for_the_hold() -> None:
    b = Breaker("redis", cooldown=0.05, hold=0.3)
    b.failure("connection refused")
    wait_until(lambda: closed(b), timeout=10, interval=0.01)  # half-open after the cooldown
    held_at = time.monotonic()  # before: the breaker's own clock starts the hold inside success()
    b.success()  # the dependency answers again: held, not closed
    assert b.holds == 1 and b.is_open
    with pytest.raises(Unavailable, match="connection refused"):
        b.check()
    b.success()  # a success during the hold (a /health probe) neither closes nor extends it
    assert b.is_open
    wait_until(lambda: closed(b), timeout=10, interval=0.01)
    assert time.monotonic() - held_at >= 0.3
    b.success()  # after the hold: closed for good
    assert closed(b) and b.last_error == "" and b.holds == 1


def test_a_failure_during_the_hold_starts_over() -> None:
    b = Breaker("redis", cooldown=0.05, hold=30.0)
    b.failure("boom")
    b.success()
    assert b.holds == 1
    b.failure("boom again")  # open for the cooldown only, the hold is gone
    wait_until(lambda: closed(b), timeout=10, interval=0.01)
    b.success()  # a new hold
    assert b.holds == 2 and not closed(b)


def test_without_a_hold_the_first_success_closes_the_breaker() -> None:
    assert Settings().breaker_hold_s == 0.0
    b = Breaker("redis", cooldown=30.0)
    b.failure("boom")
    b.success()
    assert closed(b) and b.holds == 0


def test_the_hold_is_an_option_with_its_environment_variable() -> None:
    assert parse_settings(["--breaker-hold-s", "4"], env={}).breaker_hold_s == 4.0
    assert parse_settings([], env={"SUT_BREAKER_HOLD_S": "2.5"}).breaker_hold_s == 2.5
    with pytest.raises(OptionError, match="--breaker-hold-s: must be at least 0"):
        parse_settings(["--breaker-hold-s", "-1"], env={})
