"""The run on the console: one log line per phase change and per inject/revert, as they happen.

Listens to the run's harness events (``RunState.events``); nothing else. Installed by
chaosbench.harness: one ``Console`` per Locust Environment, attached at ``init``.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from chaosbench.ground.events import ChaosEvents
from chaosbench.ground.journal import JournalRecord
from chaosbench.ground.redact import redact
from chaosbench.ground.timeline import PhaseMark
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


class Console:
    """The console lines of one run."""

    def __init__(self) -> None:
        self.last_label = ""

    def on_phase(self, mark: PhaseMark, planned_wall: float, **_kw: Any) -> None:
        """A new phase (marks that only change the active faults are told by inject/revert)."""
        if mark.label == self.last_label:
            return
        self.last_label = mark.label
        late_ms = (mark.wall - planned_wall) * 1000.0
        log.info("chaos: phase %s (%+.0f ms from schedule)", mark.label, late_ms)

    def on_injected(self, record: JournalRecord, **_kw: Any) -> None:
        _on_fault("inject", record)

    def on_reverted(self, record: JournalRecord, **_kw: Any) -> None:
        _on_fault("revert", record)

    def attach(self, events: ChaosEvents) -> None:
        events.phase_changed.add_listener(self.on_phase)
        events.fault_injected.add_listener(self.on_injected)
        events.fault_reverted.add_listener(self.on_reverted)


def _on_init(environment: Any, **_kw: Any) -> None:
    Console().attach(Harness.of(environment).state.events)


def install(events: Events) -> None:
    events.init.add_listener(_on_init)
