"""process_stop: SIGSTOP a process and SIGCONT it later (a frozen service, a long GC pause).

The process is named by ``pid``, ``pidfile`` or ``resource`` (a process the harness started,
from ``FaultContext.resources``). Never the harness itself or init.

- Without ``pause_ms``: stopped at burst start, continued at revert.
- With ``pause_ms``: stopped for ``pause_ms`` and continued, once at burst start, or every
  ``every_ms`` when that is given (repeated GC pauses).

Persistent: a process left stopped outlives the harness, so the pid and its start time go to the
ledger before the SIGSTOP, and ``revert_leftovers`` sends SIGCONT if it is still that process.

Intensity: scales ``pause_ms`` (without ``pause_ms``, the process is stopped for the burst).
"""

from __future__ import annotations

import signal
from typing import Any

import gevent
from pydantic import Field, model_validator

from chaosbench.chaos.faults._common import ledger_record, ledger_remove
from chaosbench.chaos.faults._proc import resolve_pid, send, wait_stopped
from chaosbench.chaos.faults._settings import Pid
from chaosbench.chaos.faults.base import Fault, FaultSettings, register
from chaosbench.chaos.ledger import LedgerEntry, process_start_time


class ProcessStopSettings(FaultSettings):
    pid: Pid = None
    pidfile: str | None = None
    resource: str | None = None
    pause_ms: int | None = Field(default=None, ge=1)
    every_ms: int | None = Field(default=None, ge=10)

    @model_validator(mode="after")
    def _one_target(self) -> ProcessStopSettings:
        given = [x for x in (self.pid, self.pidfile, self.resource) if x is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of pid, pidfile, resource")
        if self.every_ms is not None and self.pause_ms is None:
            raise ValueError("every_ms needs pause_ms")
        return self


@register
class ProcessStop(Fault[ProcessStopSettings]):
    type_name = "process_stop"
    Settings = ProcessStopSettings
    persistent = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.pid: int | None = None
        self._start: int | None = None
        self._stopped = False
        self._pauser: gevent.Greenlet | None = None
        self.pauses = 0

    def targets(self) -> list[str]:
        return ["127.0.0.1"]

    @property
    def target(self) -> str:
        s = self.settings
        return f"pid:{s.pid}" if s.pid else f"pidfile:{s.pidfile}" if s.pidfile else str(s.resource)

    def _stop(self) -> None:
        assert self.pid is not None
        self._stopped = True  # before the signal: revert must continue it even if we die here
        if send(self.pid, signal.SIGSTOP, self._start):
            wait_stopped(self.pid, True)
        self.pauses += 1

    def _cont(self) -> None:
        if self.pid is not None and self._stopped:
            if send(self.pid, signal.SIGCONT, self._start):
                wait_stopped(self.pid, False)
            self._stopped = False

    def _pause_loop(self, pause: float, every: float | None) -> None:
        try:
            while True:
                self._stop()
                gevent.sleep(pause)
                self._cont()
                if every is None:
                    return
                gevent.sleep(max(every - pause, 0.0))
        finally:
            self._cont()

    def inject(self) -> None:
        s = self.settings
        self.pid = resolve_pid(s.pid, s.pidfile, s.resource, self.ctx.resources)
        self._start = process_start_time(self.pid)
        ledger_record(self, {"pid": self.pid, "pid_start": self._start})
        if s.pause_ms is None:
            self._stop()
            return
        pause = s.pause_ms * self.intensity / 1000
        if pause > 0:
            every = s.every_ms / 1000 if s.every_ms is not None else None
            self._pauser = gevent.spawn(self._pause_loop, pause, every)

    def revert(self) -> None:
        if self._pauser is not None:
            self._pauser.kill()
            self._pauser = None
        self._cont()
        ledger_remove(self)

    @classmethod
    def revert_leftover(cls, entry: LedgerEntry) -> str:
        pid = entry.undo.get("pid")
        if pid is None:
            return f"{entry.type} {entry.name!r}: nothing was stopped"
        start = entry.undo.get("pid_start")
        if send(int(pid), signal.SIGCONT, None if start is None else int(start)):
            return f"reverted {entry.type} {entry.name!r}: sent SIGCONT to pid {pid}"
        return f"{entry.type} {entry.name!r}: pid {pid} is gone, nothing to continue"

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "pid": self.pid, "pauses": self.pauses}
