"""The run on the console: one log line per phase change and per inject/revert, as they happen,
and a progress line (phase, time left, requests and failures so far) at each phase change and
every ``PROGRESS_EVERY_S`` seconds during a phase, as k6 prints ``running (1m20s), 10/10 VUs``.

Listens to the run's harness events (``RunState.events``). Installed by chaosbench.harness: one
``Console`` per Locust Environment, attached at ``init`` and reset at each test's stop
(a web UI session's second test is told from its own warmup). The verdict block is printed by
chaosbench.wiring.results: last, after Locust's summary (at Locust's ``quit``) headless; at each
test's stop in the web UI.
"""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any

import gevent

from chaosbench.chaos.profile import format_duration
from chaosbench.ground.events import ChaosEvents
from chaosbench.ground.journal import JournalRecord
from chaosbench.ground.redact import redact
from chaosbench.ground.timeline import Phase, PhaseMark
from chaosbench.wiring.harness import Harness

if TYPE_CHECKING:
    from locust.event import Events

log = logging.getLogger("chaosbench.chaos")


_QUIET = frozenset({"settings", "scenario", "reason", "attributes", "errors", "error"})


def _account(record: JournalRecord) -> str:
    """The fault's own account in a few words (``terminated=0``, ``rto_s=0.84``): what it did."""
    items = [
        f"{k}={v}"
        for k, v in record.details.items()
        if k not in _QUIET and isinstance(v, int | float | str) and not isinstance(v, bool)
    ]
    return redact(f" ({', '.join(items[:6])})") if items else ""


def _on_fault(verb: str, record: JournalRecord) -> None:
    took = (record.end - record.start) * 1000.0
    what = redact(f"{record.name} ({record.type} on {record.target or '-'})")
    if record.status == "error":
        error = redact(record.error or "")
        log.warning("chaos: %s %s FAILED after %.0f ms: %s", verb, what, took, error)
    else:
        log.info("chaos: %s %s: %s in %.0f ms%s", verb, what, record.status, took, _account(record))


#: Seconds between two progress lines during a phase.
PROGRESS_EVERY_S = 10.0


def _dur(seconds: float) -> str:
    return format_duration(max(0.0, round(seconds)))


class Console:
    """The console lines of one run (``harness``: where the progress lines read the schedule
    and Locust's running totals; without one, phase and fault lines only)."""

    def __init__(self, harness: Harness | None = None) -> None:
        self.harness = harness
        self.last_label = ""
        self._ticker: gevent.Greenlet | None = None

    def progress(self, now: float | None = None) -> str:
        """``burst2: 8s left in the phase, 1m05s of 2m10s (1m05s left); 1234 requests, 5
        failures``, or "" without a running schedule."""
        h = self.harness
        s = h.scheduler if h is not None else None
        start = s.started_wall if s is not None else None
        if h is None or s is None or start is None or not s.plan:
            return ""
        elapsed = (time.time() if now is None else now) - start
        total = s.plan[-1].at
        edges = [st.at for st in s.plan if st.kind == "phase"]
        phase_end = next((at for at in edges if at > elapsed), total)
        totals = h.environment.stats.total if h.environment.stats is not None else None
        load = f"; {totals.num_requests} requests, {totals.num_failures} failures" if totals else ""
        if self.last_label == Phase.IDLE.value:  # the schedule ended, or was stopped
            return f"schedule over after {_dur(min(elapsed, total))} of {_dur(total)}{load}"
        return (
            f"{self.last_label}: {_dur(phase_end - elapsed)} left in the phase, "
            f"{_dur(elapsed)} of {_dur(total)} ({_dur(total - elapsed)} left){load}"
        )

    def _tick(self) -> None:
        while True:
            gevent.sleep(PROGRESS_EVERY_S)
            line = self.progress()
            if line:
                log.info("chaos: %s", line)

    def on_phase(self, mark: PhaseMark, planned_wall: float, **_kw: Any) -> None:
        """A new phase (marks that only change the active faults are told by inject/revert)."""
        if mark.label == self.last_label:
            return
        self.last_label = mark.label
        late_ms = (mark.wall - planned_wall) * 1000.0
        line = self.progress()
        log.info(
            "chaos: phase %s (%+.0f ms from schedule)%s",
            mark.label,
            late_ms,
            f" — {line}" if line else "",
        )
        if mark.phase is Phase.IDLE:  # the schedule ended (or was stopped)
            if self._ticker is not None:
                self._ticker.kill(block=False)
                self._ticker = None
        elif self._ticker is None and self.harness is not None:
            self._ticker = gevent.spawn(self._tick)

    def reset(self, **_kw: Any) -> None:
        """A new test (web UI): its phases are told afresh, its progress from its own start."""
        self.last_label = ""
        if self._ticker is not None:
            self._ticker.kill(block=False)
            self._ticker = None

    def on_injected(self, record: JournalRecord, **_kw: Any) -> None:
        _on_fault("inject", record)

    def on_reverted(self, record: JournalRecord, **_kw: Any) -> None:
        _on_fault("revert", record)

    def attach(self, events: ChaosEvents) -> None:
        events.phase_changed.add_listener(self.on_phase)
        events.fault_injected.add_listener(self.on_injected)
        events.fault_reverted.add_listener(self.on_reverted)


def _on_init(environment: Any, **_kw: Any) -> None:
    h = Harness.of(environment)
    console = Console(h)
    console.attach(h.state.events)
    # after the scheduler's stop (its last phase line): a web UI session's next test is told
    # from its own warmup
    environment.events.test_stop.add_listener(console.reset)


def install(events: Events) -> None:
    events.init.add_listener(_on_init)
