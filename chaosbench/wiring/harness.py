"""One harness object per Locust Environment: ``environment.chaosbench``.

It carries what one run of the harness has: the shared state (``RunState``: timeline, events,
integrity counters, fault switches, client clock), the chaos profile, the fault proxy handle, the
scheduler, the recording session, the kill switch and the exit handlers. The wiring modules
(chaos, results, console, web UI) find it through the environment Locust hands their listeners;
nothing of a run lives at module level, so two Environments in one process never share a run.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from chaosbench.chaos.safety import ExitHandlers, KillSwitch
from chaosbench.ground.state import RunState

if TYPE_CHECKING:
    from chaosbench.analysis.recording.session import RecordingSession
    from chaosbench.chaos.profile.model import Profile
    from chaosbench.chaos.runtime import ProxyHandle
    from chaosbench.chaos.scheduler import Scheduler

ATTR = "chaosbench"


@dataclass
class TestRun:
    """One test of this Environment (one start in the web UI, or the one headless run): its own
    run id, run directory and, once judged, its exit code and verdict block. The web UI shows
    ``harness.runs[-1]``; findings.json and report.html are read from ``run_dir``."""

    __test__ = False  # not a pytest class

    run_id: str
    run_dir: Path
    started_at: float  # UNIX time
    ended_at: float | None = None
    exit_code: int | None = None  # None until judged
    verdict_text: str = ""  # the console's verdict block ("" when not judged)

    @property
    def judged(self) -> bool:
        return self.exit_code is not None


class Harness:
    def __init__(self, environment: Any) -> None:
        self.environment = environment
        self.state: RunState = RunState.of(environment)  # the one users may have attached
        self.kill_switch = KillSwitch()
        self.exits = ExitHandlers(self.kill_switch)
        self.profile: Profile | None = None
        self.proxy: ProxyHandle | None = None
        self.scheduler: Scheduler | None = None
        self.disabled_reason: str | None = None
        self.overrides: tuple[bool, int | None] = (False, None)
        #: the recording session of the current (or last) test: one per test
        self.session: RecordingSession | None = None
        #: the last judged test's verdict block (printed at its stop in the web UI, and last,
        #: after Locust's summary, at Locust's ``quit``)
        self.verdict_text = ""
        #: every test this Environment ran, oldest first (one run directory each)
        self.runs: list[TestRun] = []

    @classmethod
    def of(cls, environment: Any) -> Harness:
        """The harness of ``environment``, created (and attached) on first use."""
        harness = getattr(environment, ATTR, None)
        if not isinstance(harness, Harness):
            harness = cls(environment)
            setattr(environment, ATTR, harness)
        return harness

    @property
    def seed(self) -> int | None:
        """The seed the scheduler uses (the loaded profile's: random when the YAML has none)."""
        return self.profile.seed if self.profile is not None else None
