"""The kill switch: stop all chaos at once (revert everything, no further bursts).

The scheduler registers itself here while it runs; ``kill_switch(reason)`` works on that one.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from chaosbench.chaos.scheduler import Scheduler

log = logging.getLogger("chaosbench.chaos")

_active: Scheduler | None = None


def set_active(scheduler: Scheduler) -> None:
    global _active
    _active = scheduler


def clear_active(scheduler: Scheduler) -> None:
    global _active
    if _active is scheduler:
        _active = None


def active() -> Scheduler | None:
    """The scheduler that is running now, if any."""
    return _active


def kill_switch(reason: str = "kill switch") -> bool:
    """Revert every injected fault and stop further bursts. True when a scheduler was running."""
    s = _active
    if s is None:
        return False
    log.warning("chaos kill switch: %s", reason)
    s.stop("kill_switch", detail=f"kill switch: {reason}")
    return True
