"""One test's results pipeline in a Locust process: recorder -> run directory (+ InfluxDB).

One ``RecordingSession`` per test (each start in the web UI, the one headless run): its own
settings (read anew at each test start), recorder, run directory, streamer and integrity
counters (the ``RunState``'s counters when the session was created: a new test gets fresh ones,
so the one before can still be judged with its own). Once finished it ignores every event.

Local/master: windows closed every tick go to windows.jsonl and the streamer; chaos events go to
journal.jsonl (and marks.jsonl) and the streamer; at the end: last windows, integrity, end time.
Worker: windows closed every tick are sent to the master (``chaosbench_windows`` messages) which
merges them with its own open windows; each message carries the worker's integrity counters
(orders acknowledged since the last message, stream totals), which the master keeps per worker and
merges with its own before the end-of-run integrity check.

Every time here is the real clock (``time.time()``), never the clients' skewed one.
"""

from __future__ import annotations

import dataclasses
import logging
import sys
import time
from collections.abc import Callable
from typing import Any

import gevent

from chaosbench.analysis.influx.spool import Spool
from chaosbench.analysis.influx.streamer import InfluxStreamer
from chaosbench.analysis.integrity_check import build_integrity
from chaosbench.analysis.model import Integrity
from chaosbench.analysis.recording.recorder import Recorder
from chaosbench.analysis.recording.settings import ResultsSettings
from chaosbench.analysis.recording.window import ClosedWindow
from chaosbench.analysis.rundir import format as fmt
from chaosbench.analysis.rundir.record import LocustTotals, RecordedCounts, RunRecord
from chaosbench.analysis.rundir.writer import RunDirWriter
from chaosbench.ground.integrity import CountersReport, IntegrityCounters, merge
from chaosbench.ground.journal import JournalRecord
from chaosbench.ground.state import RunState
from chaosbench.ground.timeline import PhaseMark

log = logging.getLogger("chaosbench.results")

MSG_WINDOWS = "chaosbench_windows"


class RecordingSession:
    def __init__(self, settings: ResultsSettings, recorder: Recorder, state: RunState) -> None:
        self.settings = settings
        self.recorder = recorder
        self.state = state
        #: this test's counters (the state's when created; ``RunState.fresh_counters`` gives
        #: the next test its own)
        self.counters = state.counters
        self.worker_counters = state.worker_counters
        self._acked_sent = 0  # worker: acknowledged orders already reported to the master
        self.writer: RunDirWriter | None = None
        self.streamer: InfluxStreamer | None = None
        self.journal: list[JournalRecord] = []
        self.injections: dict[str, int] = {}
        self.inject_errors: dict[str, int] = {}
        self.integrity: Integrity | None = None
        self.undelivered: dict[str, int] = {}
        self.started: float | None = None
        self.finished = False
        self._pending_journal: list[tuple[JournalRecord | None, PhaseMark | None]] = []
        self._ticker: gevent.Greenlet | None = None
        self._send: Callable[[list[ClosedWindow], bool, CountersReport], None] | None = None
        self.finals: set[str] = set()
        self._phase_label: str | None = None

    # -- lifecycle -------------------------------------------------------------------------

    @property
    def run_id(self) -> str:
        return self.settings.run_id

    def prepare(self) -> None:
        """Before the test's load: create the run directory (refuses an existing run)."""
        self.writer = RunDirWriter(self.settings.run_dir)
        self.writer.create()

    def discard(self) -> None:
        """A prepared test that never started (its start was refused): no empty run directory
        is left behind."""
        if self.started is None and self.writer is not None:
            self.writer = None
            try:
                self.settings.run_dir.rmdir()
            except OSError:  # not empty, or already gone: leave it
                pass

    def start(self, run: RunRecord) -> None:
        """At test_start: run record, streamer, recorder, ticker."""
        if self.started is not None:
            return
        self.started = time.time()
        run = dataclasses.replace(run, run_id=self.settings.run_id, start=self.started)
        if self.writer is not None:
            self.writer.start(run)
            if self.settings.influx is not None:
                spool = Spool(
                    self.settings.run_dir / fmt.SPOOL_DIR, max_bytes=self.settings.spool_max_bytes
                )
                # the sender looks for new lines once a tick (they come once a tick), not
                # five times: each look is file reads on a thread that then wants the GIL back
                # (at most 1 s: the end's drain waits for its last look)
                poll = min(self.settings.tick, 1.0)
                self.streamer = InfluxStreamer(
                    self.settings.influx, spool, self.settings.run_id, poll_s=poll
                )
                self.streamer.start()
                self.streamer.submit_run(
                    self.started,
                    {
                        "started": self.started,
                        "profile_sha256": (run.profile and run.profile.sha256) or "",
                        "git_revision": run.git_revision or "",
                    },
                )
            for record, mark in self._pending_journal:
                self._write_record(record, mark)
            self._pending_journal.clear()
        self.recorder.active = True
        self._ticker = gevent.spawn(self._tick_loop)

    def start_worker(
        self, send: Callable[[list[ClosedWindow], bool, CountersReport], None]
    ) -> None:
        self._send = send
        self.recorder.active = True
        if self._ticker is None:
            self._ticker = gevent.spawn(self._tick_loop)

    def _tick_loop(self) -> None:
        while True:
            gevent.sleep(self.settings.tick)
            try:
                self._emit(self.recorder.close_due())
            except Exception:  # keep recording; the error is in the log once per tick
                log.exception("chaosbench: closing windows failed")

    def _emit(self, windows: list[ClosedWindow], final: bool = False) -> None:
        try:
            if self._send is not None:
                counters = self.counters
                report = counters.report(self._acked_sent)
                self._acked_sent = len(counters.acked_orders)
                self._send(windows, final, report)
                return
            if not windows:
                return
            if self.writer is not None:
                self.writer.append_windows(windows)
            if self.streamer is not None:
                self.streamer.submit_windows(windows)
        finally:
            for w in windows:
                w.release()

    def stop_worker(self) -> None:
        """Worker at test_stop (or quitting): close everything and tell the master this worker is
        done. Once per test: a second call before the next ``start_worker`` sends nothing."""
        if not self.recorder.active:
            return
        self.recorder.active = False
        if self._ticker is not None:
            self._ticker.kill()
            self._ticker = None
        self._emit(self.recorder.close_all(), final=True)

    # -- master side -----------------------------------------------------------------------

    def on_worker_windows(self, data: dict[str, Any]) -> None:
        for d in data.get("windows", []):
            try:
                cw = ClosedWindow.from_json(d)
                self.recorder.merge(cw)
                cw.release()
            except ValueError as exc:
                log.error("chaosbench: bad window from worker %s: %s", data.get("worker"), exc)
        counters = data.get("counters")
        if counters is not None:
            worker = str(data.get("worker"))
            try:
                report = CountersReport.from_dict(counters)
            except (TypeError, ValueError) as exc:
                log.error("chaosbench: bad counters from worker %s: %s", worker, exc)
            else:
                self.worker_counters.setdefault(worker, IntegrityCounters()).absorb(report)
        if data.get("final"):
            self.finals.add(str(data.get("worker")))

    # -- chaos events ----------------------------------------------------------------------

    def on_phase_changed(
        self, mark: PhaseMark, planned_wall: float | None = None, **_: Any
    ) -> None:
        if self.finished:
            return
        if mark.label == self._phase_label:  # same phase, another set of active faults
            self._record(None, mark)
            return
        self._phase_label = mark.label
        record = JournalRecord(
            kind="phase",
            name=mark.label,
            type=mark.phase.value,
            burst=mark.burst,
            planned=planned_wall,
            start=mark.wall,
            end=mark.wall,
            details={"faults": list(mark.faults)},
        )
        self._record(record, mark)

    def on_fault_injected(self, record: JournalRecord, **_: Any) -> None:
        if self.finished:
            return
        if record.status == "ok":
            self.injections[record.name] = self.injections.get(record.name, 0) + 1
        elif record.status == "error":
            self.inject_errors[record.name] = self.inject_errors.get(record.name, 0) + 1
        self._record(record, None)
        if self.writer is not None and self.started is not None:
            self.writer.write_injections(self.injections, self.inject_errors)

    def on_fault_reverted(self, record: JournalRecord, **_: Any) -> None:
        if self.finished:
            return
        self._record(record, None)

    def on_chaos_stopped(self, reason: str = "", **_: Any) -> None:
        if self.writer is not None and self.started is not None and not self.finished:
            self.writer.record_chaos_stopped(reason)

    def _record(self, record: JournalRecord | None, mark: PhaseMark | None) -> None:
        if record is not None:
            self.journal.append(record)
        if self.started is None or self.writer is None:
            self._pending_journal.append((record, mark))
            return
        self._write_record(record, mark)

    def _write_record(self, record: JournalRecord | None, mark: PhaseMark | None) -> None:
        assert self.writer is not None
        if mark is not None:
            self.writer.append_mark(mark)
        if record is None:
            return
        self.writer.append_journal(record)
        if self.streamer is not None:
            self.streamer.submit_event(record)

    # -- the end ---------------------------------------------------------------------------

    def finish(self, locust: LocustTotals | None, expected_workers: int = 0) -> None:
        """Close all windows, check integrity, write the end. Idempotent."""
        if self.finished or self.started is None or self.writer is None:
            return
        self.finished = True
        deadline = time.monotonic() + 10.0
        while len(self.finals) < expected_workers and time.monotonic() < deadline:
            gevent.sleep(0.05)
        if len(self.finals) < expected_workers:
            print(
                f"chaosbench: {expected_workers - len(self.finals)} worker(s) did not send their "
                "last windows within 10 s; their last seconds are missing",
                file=sys.stderr,
            )
        if self._ticker is not None:
            self._ticker.kill()
            self._ticker = None
        self.recorder.active = False
        self._emit(self.recorder.close_all())
        counters = merge([self.counters, *self.worker_counters.values()])
        self.integrity = build_integrity(
            counters, self.settings.sut_pg_dsn, self.settings.sut_pg_schema
        )
        self.writer.write_integrity(self.integrity)
        self.writer.write_injections(self.injections, self.inject_errors)
        recorded = RecordedCounts(
            self.recorder.samples, self.recorder.late_samples, self.writer.windows_written
        )
        self.writer.finish(time.time(), locust, recorded)

    def stream_verdict(self, exit_code: int, verdict: str) -> None:
        if self.streamer is not None:
            self.streamer.write_verdict(exit_code, verdict)

    def drain(self) -> None:
        """Bounded wait for InfluxDB; say what is left and where."""
        if self.streamer is None:
            return
        self.undelivered = self.streamer.drain(self.settings.drain_timeout)
        if self.undelivered:
            n = sum(self.undelivered.values())
            detail = ", ".join(f"{v} {k}" for k, v in sorted(self.undelivered.items()))
            err = self.streamer.stats.last_error or "no answer"
            print(
                f"chaosbench: {n} InfluxDB points undelivered ({detail}; last error: {err}); "
                f"kept in {self.streamer.spool.path}; send them with "
                f"`python -m chaosbench.analysis.influx send {self.settings.run_dir}`",
                file=sys.stderr,
            )
        refused = self.streamer.spool.refused_lines
        if refused:
            print(
                f"chaosbench: {refused} InfluxDB points did not fit in the spool "
                f"(--influx-spool-max-mb); they are in the run directory: send the whole run "
                f"with `python -m chaosbench.analysis.influx send --all {self.settings.run_dir}`",
                file=sys.stderr,
            )
