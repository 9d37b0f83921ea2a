"""One run's shared state: what the scheduler, the faults, the users and the recorder share.

There is no module-level instance: each Locust Environment has its own ``RunState``, reached with
``RunState.of(environment)`` (the harness's, or a fresh one attached to that environment when
Locust is used as a library without the harness). Plain processes (tests, the chaos CLI) build
their own.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from chaosbench.ground.clock import ClientClock
from chaosbench.ground.events import ChaosEvents
from chaosbench.ground.integrity import IntegrityCounters, merge
from chaosbench.ground.switches import FaultSwitches
from chaosbench.ground.timeline import PhaseTimeline

_ATTR = "_chaosbench_state"


@dataclass
class RunState:
    timeline: PhaseTimeline = field(default_factory=PhaseTimeline)
    events: ChaosEvents = field(default_factory=ChaosEvents)
    counters: IntegrityCounters = field(default_factory=IntegrityCounters)
    switches: FaultSwitches = field(default_factory=FaultSwitches)
    #: on a master: each worker's counters (by worker id), from its reports
    worker_counters: dict[str, IntegrityCounters] = field(default_factory=dict)

    @property
    def clock(self) -> ClientClock:
        """The clients' clock (shifted by the clock_skew switch); never the recorder's."""
        return self.switches.clock

    def all_counters(self) -> IntegrityCounters:
        """This process's counters merged with every worker's (what the end-of-run check uses)."""
        if not self.worker_counters:
            return self.counters
        return merge([self.counters, *self.worker_counters.values()])

    def fresh_counters(self) -> None:
        """A new test: new integrity counters (the previous test's recording keeps its own; the
        users read ``counters`` when they start or at each acknowledgement)."""
        self.counters = IntegrityCounters()
        self.worker_counters = {}

    @classmethod
    def of(cls, environment: Any) -> RunState:
        """The state of ``environment``'s run: its harness's, else one attached to it."""
        harness = getattr(environment, "chaosbench", None)
        state = getattr(harness, "state", None)
        if isinstance(state, RunState):
            return state
        state = getattr(environment, _ATTR, None)
        if not isinstance(state, RunState):
            state = cls()
            setattr(environment, _ATTR, state)
        return state
