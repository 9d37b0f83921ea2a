"""The chaos scheduler: a greenlet that walks a profile's phases on a monotonic clock.

At every phase edge it appends a PhaseMark to the timeline, fires ``phase_changed`` and journals
the edge; at burst edges it injects and reverts faults, journals each (planned and actual time,
status, one-line error), appends a mark with the faults now active and fires ``fault_injected`` /
``fault_reverted``. Whatever ends the run (the last phase, test stop, the kill switch, a signal,
an exception), everything that was injected is reverted before ``chaos_stopped`` fires. Revert
errors are journaled, never raised past the scheduler.

The scheduler is the boundary of the faults' errors: whatever a fault raises (its library's own
error, or one of ours) is journaled once as one line (``ground.translate.error_line``), and the
fault's settings and account are journaled with their secrets masked (``ground.redact``).
"""

from __future__ import annotations

import dataclasses
import logging
import random
import time
from collections.abc import Callable
from typing import Any, Literal

import gevent
import gevent.event
from gevent import Greenlet

from chaosbench.chaos.edgewait import wait_until
from chaosbench.chaos.faults.base import Fault, FaultContext
from chaosbench.chaos.profile.model import FaultSpec, Profile
from chaosbench.chaos.safety.killswitch import KillSwitch
from chaosbench.chaos.schedule import Step, build_plan
from chaosbench.ground.events import ChaosEvents
from chaosbench.ground.journal import JournalRecord, RecordStatus
from chaosbench.ground.redact import redact, redact_data
from chaosbench.ground.text import one_line, shorten
from chaosbench.ground.timeline import Phase, PhaseMark, PhaseTimeline
from chaosbench.ground.translate import error_line

log = logging.getLogger("chaosbench.chaos")

State = Literal["ready", "running", "stopped"]


class Scheduler:
    """Runs one profile once. ``start()`` spawns the greenlet; ``stop(reason)`` ends it.

    ``timeline`` and ``events`` are the run's (``RunState``); a ``kill_switch`` given is armed
    with this scheduler while it runs."""

    def __init__(
        self,
        profile: Profile,
        ctx: FaultContext,
        *,
        timeline: PhaseTimeline,
        events: ChaosEvents,
        kill_switch: KillSwitch | None = None,
        on_mark: Callable[[PhaseMark], None] | None = None,
        on_complete: Callable[[], None] | None = None,
    ) -> None:
        self.profile = profile
        self.ctx = ctx
        self.timeline = timeline
        self.events = events
        self.kill_switch = kill_switch
        self.on_mark = on_mark
        self.on_complete = on_complete
        self.plan: list[Step] = build_plan(profile)
        self.journal: list[JournalRecord] = []
        #: Injections per fault name, and per scenario (the seeds' chaos metrics).
        self.injections: dict[str, int] = {f.name: 0 for f in profile.faults}
        self.scenario_injections: dict[str, int] = {s: 0 for s in profile.scenarios()}
        self.state: State = "ready"
        self.stop_reason: str | None = None
        self.error: str | None = None
        self._greenlet: Greenlet | None = None
        self._stopping = False
        self._finished = False  # finishing has begun (reverts under way or done)
        self._done = gevent.event.Event()  # finishing is complete
        self._finisher: Any = None  # the greenlet doing the final reverts
        self._kill_sent = False
        self._actions: set[Greenlet] = set()  # injects and reverts under way
        self._chain: dict[str, Greenlet] = {}  # fault name -> its latest action
        # Faults whose inject() was called (maybe half-done) and are not reverted yet, in order.
        self._touched: dict[str, Fault[Any]] = {}
        # Names of faults whose inject() succeeded (what the marks say is active).
        self._active: list[str] = []
        self._phase = Phase.IDLE
        self._burst: int | None = None
        self._t0 = 0.0
        self._wall0 = 0.0

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> Greenlet:
        if self.state != "ready":
            raise RuntimeError("a scheduler runs once; build a new one")
        self.state = "running"
        if self.kill_switch is not None:
            self.kill_switch.arm(self)
        self._greenlet = gevent.spawn(self.run)
        return self._greenlet

    def run(self) -> None:
        """Walk the plan (normally in the greenlet ``start()`` spawns)."""
        self.state = "running"
        if self.kill_switch is not None:
            self.kill_switch.arm(self)
        reason = "completed"
        completed = False
        try:
            self._walk()
            completed = not self._stopping
        except gevent.GreenletExit:
            reason = self.stop_reason or "test_stop"
        except Exception as exc:
            reason = "error"
            self.error = error_line(exc)
            log.exception("chaos scheduler failed; reverting every fault")
        finally:
            self._finish(self.stop_reason or reason)
        if completed and self.on_complete is not None:
            self.on_complete()

    def stop(self, reason: str = "test_stop", detail: str | None = None) -> None:
        """Stop further bursts and revert everything now; returns when every fault is reverted
        (also when another greenlet is doing it). Idempotent; never raises."""
        if self._done.is_set():
            return
        self._stopping = True
        if self.stop_reason is None:
            self.stop_reason = reason
        if detail and not self.error:
            self.error = redact(shorten(detail))
        me = gevent.getcurrent()
        g = self._greenlet
        if g is not None and g is not me and not g.dead:
            # One kill only: a second GreenletExit would interrupt the reverts in its finally.
            if not self._kill_sent:
                self._kill_sent = True
                g.kill(block=False)
            if me in self._actions:
                return  # an inject/revert (or its listener) stops us: the finish waits for it
            g.join(timeout=30)
        if not self._finished:
            self._finish(self.stop_reason)  # the greenlet never ran, or we are it
        elif me is not self._finisher:
            self._done.wait(timeout=30)

    def join(self, timeout: float | None = None) -> None:
        if self._greenlet is not None:
            self._greenlet.join(timeout)

    @property
    def finished(self) -> bool:
        """Finishing has begun (no further bursts)."""
        return self._finished

    @property
    def done(self) -> bool:
        """Every fault is reverted and ``chaos_stopped`` has fired."""
        return self._done.is_set()

    @property
    def started_wall(self) -> float | None:
        """Wall clock of the run start (None before the walk began)."""
        return self._wall0 or None

    @property
    def active_faults(self) -> tuple[str, ...]:
        return tuple(self._active)

    @property
    def current(self) -> PhaseMark:
        return PhaseMark(time.time(), self._phase, self._burst, tuple(self._active))

    # -- the walk ----------------------------------------------------------------------------

    def _walk(self) -> None:
        self._t0 = time.monotonic()
        self._wall0 = time.time()
        for step in self.plan:
            if self._stopping:
                return
            deadline = self._t0 + step.at
            wait_until(deadline)
            if self._stopping:
                return
            late_ms = (time.monotonic() - deadline) * 1000.0
            planned = self._wall0 + step.at
            if step.kind == "phase" and step.phase is not None:
                self._phase_edge(step.phase, step.burst, planned, late_ms)
            elif step.kind == "inject" and step.fault is not None and step.burst is not None:
                self._spawn_action(step.fault.name, self._inject, step.fault, step.burst, planned)
            elif step.kind == "revert" and step.fault is not None and step.burst is not None:
                self._spawn_action(
                    step.fault.name, self._revert, step.fault.name, planned, "burst_end"
                )

    def _spawn_action(self, name: str, fn: Callable[..., None], *args: Any) -> None:
        """Run an inject or revert in its own greenlet, so that however long it takes, the walk
        reaches the next edge on time. Actions of one fault run in order."""
        previous = self._chain.get(name)

        def action() -> None:
            if previous is not None and not previous.dead:
                previous.join()
            try:
                fn(*args)
            except gevent.GreenletExit:
                raise
            except Exception as exc:  # a bug, not a fault's own error (those are journaled)
                log.exception("chaos scheduler action failed; reverting every fault")
                if not self._stopping:
                    gevent.spawn(self.stop, "error", error_line(exc))

        g = gevent.spawn(action)
        self._actions.add(g)
        g.link(self._actions.discard)
        self._chain[name] = g

    def _phase_edge(
        self, phase: Phase, burst: int | None, planned: float, late_ms: float = 0.0
    ) -> PhaseMark:
        self._phase, self._burst = phase, burst
        mark = self._mark(planned)
        self.journal.append(
            JournalRecord(
                kind="phase",
                name=mark.label,
                type=phase.value,
                burst=burst,
                planned=planned,
                start=mark.wall,
                end=mark.wall,
                details={"late_ms": round(late_ms, 3)},
            )
        )
        return mark

    def _mark(self, planned: float) -> PhaseMark:
        mark = PhaseMark(time.time(), self._phase, self._burst, tuple(self._active))
        self.timeline.append(mark)
        if self.on_mark is not None:
            try:
                self.on_mark(mark)
            except Exception:
                log.exception("sending a phase mark failed")
        self.events.phase_changed.fire(mark=mark, planned_wall=planned)
        return mark

    def _fault_ctx(self, spec: FaultSpec, burst: int) -> FaultContext:
        rng = random.Random(f"chaosbench-{self.profile.seed}-{spec.name}-{burst}")
        return dataclasses.replace(self.ctx, rng=rng)

    def _inject(self, spec: FaultSpec, burst: int, planned: float) -> None:
        intensity = spec.intensity_at(burst)
        fault = spec.cls(spec.name, spec.settings, self._fault_ctx(spec, burst), intensity)
        record = JournalRecord(
            kind="inject",
            name=spec.name,
            type=spec.type,
            target=_target(fault),
            burst=burst,
            planned=planned,
            start=time.time(),
            intensity=intensity,
            details={"scenario": spec.scenario, **_describe(fault)},
        )
        status: RecordStatus = "ok"
        if self.profile.dry_run:
            status = "dry_run"
            self._touched[spec.name] = fault
        else:
            self._touched[spec.name] = fault
            try:
                if fault.persistent and self.ctx.ledger is not None:
                    self.ctx.ledger.record(fault)
                fault.inject()
            except gevent.GreenletExit:
                record.status, record.error, record.end = "error", "interrupted", time.time()
                self.journal.append(record)
                raise
            except Exception as exc:
                status = "error"
                record.error = error_line(exc)
                log.warning("chaos: inject %s failed: %s", spec.name, record.error)
        record.status = status
        record.end = time.time()
        if status != "dry_run":  # what the fault did (RTO, backends terminated, ...)
            record.details.update(_describe(fault))
            _measured(fault, record)
        self.journal.append(record)
        if status != "error":
            self.injections[spec.name] = self.injections.get(spec.name, 0) + 1
            self.scenario_injections[spec.scenario] = (
                self.scenario_injections.get(spec.scenario, 0) + 1
            )
            if status == "ok":
                self._active.append(spec.name)
            self._mark(planned)
        self.events.fault_injected.fire(record=record)
        if status == "error":
            self._revert(spec.name, planned, "inject_failed")

    def _revert(self, name: str, planned: float | None, reason: str) -> None:
        fault = self._touched.pop(name, None)
        if fault is None:
            return
        record = JournalRecord(
            kind="revert",
            name=name,
            type=fault.type_name,
            target=_target(fault),
            burst=self._burst,
            planned=planned,
            start=time.time(),
            intensity=fault.intensity,
            details={"reason": reason},
        )
        if self.profile.dry_run:
            record.status = "dry_run"
        else:
            try:
                fault.revert()
                if fault.persistent and self.ctx.ledger is not None:
                    self.ctx.ledger.remove(fault)
            except BaseException as exc:  # journaled, never raised past the scheduler
                record.status = "error"
                record.error = error_line(exc)
                log.error("chaos: revert %s failed: %s", name, record.error)
                if isinstance(exc, gevent.GreenletExit | KeyboardInterrupt | SystemExit):
                    self._touched[name] = fault  # try again from the final revert
                    record.end = time.time()
                    self.journal.append(record)
                    raise
        record.end = time.time()
        if record.status != "dry_run":
            record.details.update(_describe(fault))
            _measured(fault, record)
        self.journal.append(record)
        if name in self._active:
            self._active.remove(name)
        self._mark(planned if planned is not None else record.start)
        self.events.fault_reverted.fire(record=record)

    def revert_all(self, reason: str) -> None:
        """Revert every fault that was (maybe half-) injected, newest first."""
        for name in reversed(list(self._touched)):
            try:
                self._revert(name, None, reason)
            except BaseException:  # a second kill while reverting: keep going with the rest
                log.exception("chaos: interrupted while reverting %s", name)

    def _finish(self, reason: str) -> None:
        if self._finished:
            return
        self._finished = True
        self._stopping = True
        self._finisher = me = gevent.getcurrent()
        try:
            # Let injects and reverts under way finish (then undo them), within reason.
            pending = [g for g in self._actions if g is not me and not g.dead]
            if pending:
                gevent.joinall(pending, timeout=10)
                for g in pending:
                    if not g.dead:
                        g.kill(block=True, timeout=5)
            self.revert_all(reason)
            self._phase, self._burst = Phase.IDLE, None
            self._phase_edge(Phase.IDLE, None, time.time())
        finally:
            self.state = "stopped"
            self.stop_reason = reason
            if self.kill_switch is not None:
                self.kill_switch.disarm(self)
            log.info("chaos stopped: %s", reason)
            try:
                self.events.chaos_stopped.fire(reason=reason)
            finally:
                self._done.set()

    # -- summaries ---------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        """Plain data for the web UI and the run metadata."""
        return {
            "state": self.state,
            "phase": PhaseMark(0.0, self._phase, self._burst).label,
            "active_faults": list(self._active),
            "dry_run": self.profile.dry_run,
            "seed": self.profile.seed,
            "injections": dict(self.injections),
            "scenario_injections": dict(self.scenario_injections),
            "stop_reason": self.stop_reason,
            "error": self.error,
        }


def _target(fault: Fault[Any]) -> str:
    try:
        return fault.target
    except Exception:
        return ""


def _measured(fault: Fault[Any], record: JournalRecord) -> None:
    """Copy what the fault measured into the record's typed fields (the analysis reads them).

    The hook: a fault that measures a recovery time has an attribute ``rto_s`` (float | None).
    """
    if not hasattr(type(fault), "rto_s"):
        return
    try:
        rto = fault.rto_s  # type: ignore[attr-defined]
    except Exception as exc:
        record.details["rto_error"] = one_line(exc)
        rto = None
    record.measures_rto = True
    record.rto_s = None if rto is None else float(rto)


def _describe(fault: Fault[Any]) -> dict[str, Any]:
    """The fault's settings and account for the journal, secrets masked (DSN passwords...)."""
    try:
        described = redact_data(fault.describe())
    except Exception as exc:
        return {"describe_error": error_line(exc)}
    return described if isinstance(described, dict) else {"describe": described}
