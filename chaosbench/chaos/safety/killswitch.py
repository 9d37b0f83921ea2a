"""The kill switch: stop all chaos at once (revert everything, no further bursts).

Each harness owns one ``KillSwitch``; a scheduler given it arms it while it runs, and
``kill(reason)`` works on that one. The switch knows schedulers only by :class:`Stoppable` (it
does not import the scheduler module).
"""

from __future__ import annotations

import logging
from typing import Protocol

log = logging.getLogger("chaosbench.chaos")


class Stoppable(Protocol):
    """What the kill switch and the exit handlers need of a scheduler."""

    stop_reason: str | None

    @property
    def finished(self) -> bool: ...

    @property
    def done(self) -> bool: ...

    def stop(self, reason: str = "test_stop", detail: str | None = None) -> None: ...


class KillSwitch:
    def __init__(self) -> None:
        self._active: Stoppable | None = None

    def arm(self, scheduler: Stoppable) -> None:
        self._active = scheduler

    def disarm(self, scheduler: Stoppable) -> None:
        if self._active is scheduler:
            self._active = None

    @property
    def active(self) -> Stoppable | None:
        """The scheduler that is running now, if any."""
        return self._active

    def kill(self, reason: str = "kill switch") -> bool:
        """Revert every injected fault and stop further bursts. True when a scheduler ran."""
        s = self._active
        if s is None:
            return False
        log.warning("chaos kill switch: %s", reason)
        s.stop("kill_switch", detail=f"kill switch: {reason}")
        return True
