"""Errors at the chaos boundaries: one line, translated once, secrets masked.

The scheduler journals a fault's failure as the one line of ``ground.translate.error_line``
(never "FaultError: ... OperationalError: ..."), and the journal's settings carry no password;
the profile loader's errors carry none either.
"""

from __future__ import annotations

import json
from dataclasses import asdict

import pytest

from chaosbench.chaos.faults import FaultContext
from chaosbench.chaos.profile import parse_profile
from chaosbench.chaos.scheduler import Scheduler
from chaosbench.ground.errors import ChaosbenchError
from chaosbench.ground.events import ChaosEvents
from chaosbench.ground.timeline import PhaseTimeline
from tests.conftest import free_port

SECRET = "s3cr3t-pw"
PHASES = "{warmup: 0s, baseline: 0.2s, burst_on: 0.3s, burst_off: 0.2s, bursts: 1, cooldown: 0s}"


def test_failing_pg_fault_is_journaled_as_one_line_without_its_password() -> None:
    port = free_port()  # nothing listens: the admin connection is refused
    text = f"""
seed: 1
phases: {PHASES}
faults:
  - name: kill_pg
    type: pg_terminate_backends
    dsn: postgresql://chaos:{SECRET}@127.0.0.1:{port}/x
"""
    profile = parse_profile(text, "t.yaml")
    s = Scheduler(profile, FaultContext(), timeline=PhaseTimeline(), events=ChaosEvents())
    s.start()
    s.join(30)
    assert s.finished and s.stop_reason == "completed", s.error
    inject = next(r for r in s.journal if r.kind == "inject")
    revert = next(r for r in s.journal if r.kind == "revert")
    assert inject.status == "error"
    assert inject.error == f"PostgreSQL 127.0.0.1:{port}: connection refused"
    assert revert.details["reason"] == "inject_failed"
    for record in (inject, revert):
        dsn = record.details["settings"]["dsn"]
        assert dsn == f"postgresql://chaos:***@127.0.0.1:{port}/x"
    journal = json.dumps([asdict(r) for r in s.journal], default=str)
    assert SECRET not in journal
    assert "FaultError" not in journal and "OperationalError" not in journal


BASE = f"phases: {PHASES}\nfaults:\n"


@pytest.mark.parametrize(
    ("fault", "needle"),
    [
        # a DSN libpq cannot parse (key=value form)
        (
            f"{{type: pg_terminate_backends, dsn: 'host=127.0.0.1 password={SECRET} port'}}",
            "faults[0]: dsn 'host=127.0.0.1 password=*** port'",
        ),
        # a mapping where a DSN belongs: the value shown in the error
        (
            f"{{type: pg_terminate_backends, dsn: {{password: {SECRET}}}}}",
            "faults[0].dsn: Input should be a valid string (got {'password': '***'})",
        ),
        # a whole settings value shown (URL form)
        (
            f"{{type: pg_terminate_backends, dsn: [postgresql://u:{SECRET}@127.0.0.1/x]}}",
            "(got ['postgresql://u:***@127.0.0.1/x'])",
        ),
    ],
)
def test_profile_validation_errors_do_not_show_passwords(fault: str, needle: str) -> None:
    with pytest.raises(ChaosbenchError) as err:
        parse_profile(f"{BASE}  - {fault}\n", "p.yaml")
    message = str(err.value)
    assert needle in message, message
    assert SECRET not in message and "\n" not in message


def test_profile_error_on_a_huge_value_is_bounded() -> None:
    with pytest.raises(ChaosbenchError) as err:
        parse_profile(f"{BASE}  - {{type: pg_terminate_backends, every_ms: '{'9' * 200_000}'}}\n")
    assert len(str(err.value)) <= 300 and "every_ms" in str(err.value)
