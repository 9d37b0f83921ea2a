"""Streams windows and chaos events to InfluxDB without ever blocking the gevent loop.

The loop only appends line protocol to the on-disk spool (one buffered write per tick). ONE
native OS thread (not a greenlet, not influxdb-client's batching threads) reads the spool
oldest first, posts gzip batches with the synchronous write API, and records what the server
acknowledged. While InfluxDB refuses or times out, the thread backs off (up to ``max_backoff``)
and the data waits on disk. At the end, ``drain`` waits a bounded time on the loop (gevent.sleep)
and then reports what is still undelivered; ``python -m chaosbench.analysis.influx send RUN_DIR``
sends it.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import gevent
from gevent import monkey

from chaosbench.analysis.influx import schema
from chaosbench.analysis.influx.config import InfluxConfig
from chaosbench.analysis.influx.sender import Sender, describe_error
from chaosbench.analysis.influx.spool import Spool
from chaosbench.analysis.recording.window import ClosedWindow
from chaosbench.ground.journal import JournalRecord

# The real ones, even when Locust has monkey-patched the process.
_start_thread = monkey.get_original("_thread", "start_new_thread")
_os_sleep = monkey.get_original("time", "sleep")


@dataclass
class StreamStats:
    batches: int = 0
    lines_sent: int = 0
    failures: int = 0
    last_error: str | None = None
    outage_since: float | None = None
    outages: list[float] = field(default_factory=list)  # durations of recovered outages


class InfluxStreamer:
    def __init__(
        self,
        config: InfluxConfig,
        spool: Spool,
        run_id: str,
        batch_lines: int = 2000,
        poll_s: float = 0.2,
        max_backoff: float = 2.0,
    ) -> None:
        self.config = config
        self.spool = spool
        self.run_id = run_id
        self.batch_lines = batch_lines
        self.poll_s = poll_s
        self.max_backoff = max_backoff
        self.stats = StreamStats()
        self._stop = False
        self._running = False
        self._idle = True

    # -- gevent side -----------------------------------------------------------------------

    def start(self) -> InfluxStreamer:
        if not self._running:
            self._running = True
            self._stop = False
            _start_thread(self._run, ())
        return self

    def submit_windows(self, windows: list[ClosedWindow]) -> None:
        lines: list[str] = []
        for w in windows:
            lines.extend(schema.window_lines(w, self.run_id))
        self.spool.append(lines)

    def submit_event(self, record: JournalRecord) -> None:
        self.spool.append([schema.event_line(record, self.run_id)])

    def submit_run(self, ts: float, fields: dict[str, Any]) -> None:
        self.spool.append([schema.run_line(self.run_id, ts, fields)])

    def write_verdict(self, exit_code: int, verdict: str, ended: float | None = None) -> None:
        """The run's verdict as a ``chaosbench_run`` point (call before ``drain``)."""
        ts = time.time() if ended is None else ended
        self.submit_run(ts, {"ended": ts, "exit_code": int(exit_code), "verdict": verdict})

    def drain(self, timeout: float) -> dict[str, int]:
        """Wait up to ``timeout`` s (cooperatively) for delivery; stop the thread; return what is
        still undelivered, by measurement (empty when everything arrived)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.spool.pending_bytes() > 0:
            gevent.sleep(0.05)
        self._stop = True
        self.spool.close()
        return self.spool.pending_lines() if self.spool.pending_bytes() else {}

    # -- sender thread ---------------------------------------------------------------------

    def _run(self) -> None:
        sender: Sender | None = None
        backoff = 0.1
        try:
            sender = Sender(self.config)
            while not self._stop:
                batch = self.spool.next_batch(self.batch_lines)
                if batch is None:
                    self._idle = True
                    _os_sleep(self.poll_s)
                    continue
                self._idle = False
                try:
                    sender.write(batch.text)
                except Exception as exc:  # refused, timed out, unreachable: keep it spooled
                    self.stats.failures += 1
                    self.stats.last_error = describe_error(exc)
                    if self.stats.outage_since is None:
                        self.stats.outage_since = time.time()
                    _os_sleep(backoff)
                    backoff = min(backoff * 2, self.max_backoff)
                    continue
                self.spool.delivered(batch)
                self.stats.batches += 1
                self.stats.lines_sent += batch.lines
                backoff = 0.1
                if self.stats.outage_since is not None:
                    self.stats.outages.append(time.time() - self.stats.outage_since)
                    self.stats.outage_since = None
        finally:
            self._running = False
            if sender is not None:
                sender.close()
