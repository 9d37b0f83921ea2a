"""The console tells phase changes and every inject/revert as they happen."""

from __future__ import annotations

import logging

import pytest

from chaosbench.ground.journal import JournalRecord
from chaosbench.ground.timeline import Phase, PhaseMark
from chaosbench.wiring import console


def test_phase_changes_and_faults_are_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="chaosbench.chaos")
    c = console.Console()  # one per run
    c.on_phase(PhaseMark(wall=100.012, phase=Phase.BURST, burst=2), planned_wall=100.0)
    c.on_phase(
        PhaseMark(wall=100.05, phase=Phase.BURST, burst=2, faults=("lat",)), planned_wall=100.0
    )
    rec = JournalRecord(
        kind="inject", name="lat", type="latency", target="sut_pg", start=1.0, end=1.02
    )
    c.on_injected(rec)
    kill = JournalRecord(
        kind="inject", name="pg", type="pg_terminate_backends", target="127.0.0.1:5432",
        details={"settings": {"dsn": "x"}, "terminated": 0, "rounds": 1, "errors": []},
    )  # fmt: skip
    c.on_injected(kill)
    bad = JournalRecord(
        kind="revert", name="lat", type="latency", target="sut_pg", status="error", error="refused"
    )
    c.on_reverted(bad)
    lines = [r.getMessage() for r in caplog.records]
    assert lines[0] == "chaos: phase burst2 (+12 ms from schedule)"
    assert sum("phase burst2" in ln for ln in lines) == 1  # a fault change is not a new phase
    assert "chaos: inject lat (latency on sut_pg): ok in 20 ms" in lines
    # what the fault did is on the line: a fault that touched nothing shows it
    assert any(ln.endswith("ok in 0 ms (terminated=0, rounds=1)") for ln in lines), lines
    assert any("revert lat" in ln and "FAILED" in ln and "refused" in ln for ln in lines)


def test_console_lines_show_no_secret(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="chaosbench.chaos")
    bad = JournalRecord(
        kind="inject", name="pg", type="pg_lock_contention", target="127.0.0.1:1",
        status="error", error="dsn 'host=127.0.0.1 password=s3cr3t': bad",
    )  # fmt: skip
    con = console.Console()
    con.on_injected(bad)
    ok = JournalRecord(
        kind="revert", name="pg", type="pg_lock_contention", target="127.0.0.1:1",
        details={"note": "postgresql://u:s3cr3t@127.0.0.1/x"},
    )  # fmt: skip
    con.on_reverted(ok)
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2 and all("s3cr3t" not in ln for ln in lines), lines
    assert "password=***" in lines[0] and "u:***@" in lines[1]


def test_the_chaos_core_does_not_import_locust() -> None:
    """Importing Locust monkey-patches the process; the scheduler, faults and proxy must not."""
    import subprocess

    from tests.conftest import PYTHON, ROOT

    code = (
        "import sys, chaosbench.chaos.scheduler, chaosbench.chaos.faults, chaosbench.proxy,"
        " chaosbench.ground.state, chaosbench.analysis.analyze;"
        " chaosbench.chaos.faults.catalogue(); print('locust' in sys.modules)"
    )
    out = subprocess.run([PYTHON, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.stdout.strip() == "False", out.stderr
