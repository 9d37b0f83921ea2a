"""The WebSocket user against a real feed server on loopback (tests/users/feedserver.py)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="module")
def ws(request: pytest.FixtureRequest) -> dict:
    from tests.users.conftest import run_script

    return run_script("ws_stream")


def test_forced_disconnect_reconnects_and_resumes_completely(ws: dict) -> None:
    after = ws["after_drop"]
    assert after["resume"] == [None], "the resumed stream must continue right after the last seq"
    assert after["gaps"] == 0 and after["duplicates"] == 0 and after["reorders"] == 0
    assert len(after["reconnect_ms"]) == 1 and 0 < after["reconnect_ms"][0] < 3000


def test_skipped_sequence_number_is_one_gap(ws: dict) -> None:
    assert ws["after_skip"]["gaps"] == 1
    assert ws["after_skip"]["duplicates"] == 0
    assert any("gap: 1 message" in s for s in ws["after_skip"]["sequence"])


def test_repeated_message_is_a_duplicate(ws: dict) -> None:
    assert ws["after_repeat"] == {"gaps": 1, "duplicates": 1}


def test_unfillable_resume_is_reported_incomplete(ws: dict) -> None:
    assert ws["after_forget"]["gap_delta"] >= 5
    first, second = ws["after_forget"]["resume"]
    assert first is None
    assert second is not None and "server gap" in second


def test_dead_peer_noticed_within_seconds(ws: dict) -> None:
    assert 1.0 <= ws["dead_detect_s"] < 4.0


def test_connect_cycles_and_reporting(ws: dict) -> None:
    assert ws["cycles_ok"] == 5
    assert ws["types"] == ["WS"]
    for name in ("connect", "reconnect", "resume", "message quote", "connect cycle"):
        assert name in ws["names"]
    assert ws["deadlines"] == [1000.0]
    counters = ws["counters"]
    assert counters["resumes"] == 3 and counters["duplicates"] == 1
    assert counters["gaps"] >= 6 and counters["messages"] > 100
