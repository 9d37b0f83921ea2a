"""process_restart: kill a service and start it again; record the RTO.

Two ways to name the service:

- ``resource``: a local process the harness started, described in ``FaultContext.resources`` as
  ``{"pid": int, "argv": [...], "cwd": str?, "env": {...}?, "log": path?}``. The fault sends
  ``signal`` (KILL by default, TERM with a 10 s grace before KILL), waits until it is gone,
  starts ``argv`` again and writes the new pid back into ``resources[resource]["pid"]`` (so the
  harness stops the right process at the end);
- commands: ``restart_cmd`` (one command, e.g. ``docker restart sut``) or ``stop_cmd`` then
  ``start_cmd`` (shell command lines, run with a timeout).

After ``down_ms`` (scaled by intensity) the service is started again, and the fault polls
``health_url`` (a 2xx answer) or ``health_addr`` (a TCP connect) until it answers. The RTO, from
the kill to the first answer, goes in the journal details (``rto_s``). Revert starts the service
now if it is still down and waits (``rto_timeout_s`` at most) until it answers.

Persistent: with ``start_cmd``/``restart_cmd`` the ledger keeps the command, so a reset after a
crash starts the service again. A local process belongs to its harness and is not restarted.

Intensity: scales ``down_ms``, the time the service stays down before the restart.
"""

from __future__ import annotations

import os
import shlex
import signal
import time
from typing import Any, Literal

import gevent
import gevent.event
from gevent import subprocess as gsubprocess
from pydantic import Field, model_validator

from chaosbench.chaos.faults._common import ledger_record, ledger_remove
from chaosbench.chaos.faults._proc import answers, resolve_pid, send, wait_gone
from chaosbench.chaos.faults.base import Fault, FaultSettings, register
from chaosbench.chaos.ledger import LedgerEntry, process_start_time
from chaosbench.ground.errors import FaultError


class ProcessRestartSettings(FaultSettings):
    resource: str | None = None
    restart_cmd: str | None = None
    stop_cmd: str | None = None
    start_cmd: str | None = None
    signal: Literal["KILL", "TERM", "INT"] = "KILL"
    down_ms: int = Field(default=0, ge=0, le=600_000)
    health_url: str | None = None
    health_addr: str | None = None  # host:port
    rto_timeout_s: float = Field(default=60.0, gt=0, le=3600)
    cmd_timeout_s: float = Field(default=120.0, gt=0, le=3600)

    @model_validator(mode="after")
    def _one_way(self) -> ProcessRestartSettings:
        cmds = self.restart_cmd is not None or self.stop_cmd is not None
        if (self.resource is not None) == cmds:
            raise ValueError("give either resource, or restart_cmd / stop_cmd + start_cmd")
        if self.restart_cmd is not None and (self.stop_cmd or self.start_cmd):
            raise ValueError("restart_cmd excludes stop_cmd and start_cmd")
        if self.stop_cmd is not None and self.start_cmd is None:
            raise ValueError("stop_cmd needs start_cmd")
        if self.health_addr is not None and ":" not in self.health_addr:
            raise ValueError(f"health_addr {self.health_addr!r} must be host:port")
        return self


def run_cmd(cmd: str, timeout: float) -> None:
    """Run a shell command line cooperatively; FaultError on failure or timeout."""
    try:
        proc = gsubprocess.run(
            cmd, shell=True, timeout=timeout, stdout=gsubprocess.PIPE, stderr=gsubprocess.STDOUT
        )
    except gsubprocess.TimeoutExpired:
        raise FaultError(f"command {cmd!r} did not finish in {timeout:g}s") from None
    if proc.returncode != 0:
        out = (proc.stdout or b"").decode(errors="replace").strip().splitlines()
        raise FaultError(f"command {cmd!r} exited {proc.returncode}: {out[-1] if out else ''}")


@register
class ProcessRestart(Fault[ProcessRestartSettings]):
    type_name = "process_restart"
    Settings = ProcessRestartSettings
    persistent = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.killed_at: float | None = None
        self.started_at: float | None = None
        self.answered_at: float | None = None
        self.old_pid: int | None = None
        self.new_pid: int | None = None
        self.error: str | None = None
        self._down = False
        self._restarter: gevent.Greenlet | None = None
        self._wake = gevent.event.Event()
        self._popen: gsubprocess.Popen | None = None

    def targets(self) -> list[str]:
        out = ["127.0.0.1"]
        if self.settings.health_addr:
            out.append(self.settings.health_addr)
        if self.settings.health_url:
            from urllib.parse import urlsplit

            parts = urlsplit(self.settings.health_url)
            out.append(f"{parts.hostname}:{parts.port or 80}")
        return out

    @property
    def target(self) -> str:
        s = self.settings
        return s.resource or s.restart_cmd or f"{s.stop_cmd} / {s.start_cmd}"

    # -- the steps ------------------------------------------------------------------------------
    def _kill_local(self) -> None:
        s = self.settings
        assert s.resource is not None
        pid = resolve_pid(None, None, s.resource, self.ctx.resources)
        start = process_start_time(pid)
        self.old_pid = pid
        self._down = True
        self.killed_at = time.time()
        send(pid, signal.Signals[f"SIG{s.signal}"], start)
        if not wait_gone(pid, start, 10.0 if s.signal != "KILL" else 5.0):
            send(pid, signal.SIGKILL, start)
            wait_gone(pid, start, 5.0)

    def _start_local(self) -> None:
        s = self.settings
        assert s.resource is not None
        res = self.ctx.resources[s.resource]
        argv = res.get("argv") if isinstance(res, dict) else None
        if not argv:
            raise FaultError(f"resource {s.resource!r} has no argv to restart")
        log = res.get("log")
        out = open(log, "ab") if log else gsubprocess.DEVNULL
        try:
            self._popen = gsubprocess.Popen(
                [str(a) for a in argv],
                cwd=res.get("cwd"),
                env={**os.environ, **{k: str(v) for k, v in (res.get("env") or {}).items()}},
                stdout=out,
                stderr=gsubprocess.STDOUT,
                stdin=gsubprocess.DEVNULL,
            )
        finally:
            if log:
                out.close()
        self.new_pid = self._popen.pid
        res["pid"] = self._popen.pid

    def _start(self) -> None:
        s = self.settings
        self.started_at = time.time()
        if s.resource is not None:
            self._start_local()
        elif s.start_cmd is not None:
            run_cmd(s.start_cmd, s.cmd_timeout_s)
        self._down = False

    def _restart(self, down: float) -> None:
        s = self.settings
        try:
            if s.restart_cmd is not None:
                run_cmd(s.restart_cmd, s.cmd_timeout_s)
                self.started_at = time.time()
                self._down = False
            else:
                self._wake.wait(down)
                self._start()
            deadline = time.monotonic() + s.rto_timeout_s
            while time.monotonic() < deadline:
                if answers(s.health_url, s.health_addr):
                    self.answered_at = time.time()
                    return
                gevent.sleep(0.05)
            self.error = f"did not answer within {s.rto_timeout_s:g}s"
        except FaultError as exc:
            self.error = str(exc)

    def inject(self) -> None:
        s = self.settings
        ledger_record(self, {"start_cmd": s.start_cmd or s.restart_cmd})
        if s.resource is not None:
            self._kill_local()
        elif s.stop_cmd is not None:
            self._down = True
            self.killed_at = time.time()
            run_cmd(s.stop_cmd, s.cmd_timeout_s)
        else:
            self.killed_at = time.time()
        self._restarter = gevent.spawn(self._restart, s.down_ms * self.intensity / 1000)

    def revert(self) -> None:
        if self._restarter is not None:
            self._wake.set()  # still down: start it now
            self._restarter.join(timeout=self.settings.rto_timeout_s + self.settings.cmd_timeout_s)
            self._restarter.kill()
            self._restarter = None
        elif self._down:
            self._start()  # inject failed half-way: the service was stopped, bring it back
        ledger_remove(self)
        if self.error:
            raise FaultError(self.error)

    @property
    def rto_s(self) -> float | None:
        if self.killed_at is None or self.answered_at is None:
            return None
        return round(self.answered_at - self.killed_at, 3)

    @classmethod
    def revert_leftover(cls, entry: LedgerEntry) -> str:
        cmd = entry.undo.get("start_cmd")
        if not cmd:
            return f"{entry.type} {entry.name!r}: a local process of a dead harness, not restarted"
        run_cmd(str(cmd), float(entry.settings.get("cmd_timeout_s", 120.0)))
        return f"reverted {entry.type} {entry.name!r}: ran {shlex.quote(str(cmd))}"

    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            "rto_s": self.rto_s,
            "old_pid": self.old_pid,
            "new_pid": self.new_pid,
            "restart_to_answer_s": None
            if self.started_at is None or self.answered_at is None
            else round(self.answered_at - self.started_at, 3),
            "error": self.error,
        }
