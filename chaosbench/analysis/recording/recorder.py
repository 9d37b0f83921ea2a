"""The recorder: every request becomes a sample in the window of the second and phase it STARTED in.

Closing rule (documented in docs/run-directory.md): the window of second ``s`` is closed at the
first tick with ``now >= s + 1 + grace``. A request that started in ``s`` and ends after that
(longer than ``grace``) is not lost: it opens a *late delta* window for the same (second, key),
closed at the next tick and written with ``late = n``; the loader merges deltas into their window.
Memory is bounded by the requests of the last ``grace + 2`` seconds, whatever the run length.
"""

from __future__ import annotations

import math
import time
from typing import Any

from chaosbench.analysis.recording.window import ClosedWindow, WindowAccumulator
from chaosbench.ground.timeline import PhaseMark, PhaseTimeline

_Key = tuple[int, str, str, str]  # second, request_type, name, phase label
_LATE_SEQ_HORIZON_S = 3600


class Recorder:
    """Listener for ``environment.events.request`` and, on a master, merger of worker windows.

    Its clock is the real one (``time.time()``), never the clients' skewed clock: a sample lands
    in the second its request started in."""

    def __init__(self, timeline: PhaseTimeline, grace: float = 2.0) -> None:
        self.timeline = timeline
        self.grace = grace
        self.active = False
        self.samples = 0
        self.late_samples = 0
        self._open: dict[_Key, WindowAccumulator] = {}
        self._watermark = -math.inf  # windows of seconds <= watermark are closed
        self._late_seq: dict[_Key, int] = {}
        self._mark: PhaseMark | None = None
        self._label = ""

    # -- input -----------------------------------------------------------------------------

    def on_request(
        self,
        request_type: str,
        name: str,
        response_time: float | None,
        response_length: int | None = 0,
        exception: Any = None,
        context: dict[str, Any] | None = None,
        start_time: float | None = None,
        **_: Any,
    ) -> None:
        """Locust's request event: ``response_time`` in ms (float), ``start_time`` wall clock."""
        if not self.active:
            return
        rt_ms = response_time or 0.0
        if start_time is None:
            start_time = time.time() - rt_ms / 1000.0
        mark = self.timeline.at(start_time)
        if mark is not self._mark:
            self._mark = mark
            self._label = mark.label
        second = int(start_time)
        key = (second, request_type, name, self._label)
        acc = self._open.get(key)
        if acc is None:
            late = second <= self._watermark
            acc = WindowAccumulator(second, str(request_type), str(name), self._label, late)
            self._open[key] = acc
        if mark.faults:
            acc.faults.update(mark.faults)
        us = int(rt_ms * 1000.0 + 0.5)
        if us < 1:  # HDR's lowest trackable value (and a clock that went backwards)
            us = 1
        acc.count += 1
        acc.sum_us += us
        self.samples += 1
        if acc.late:
            self.late_samples += 1
        missed = False
        if context:
            deadline = context.get("deadline_ms")
            missed = deadline is not None and rt_ms > deadline
            if missed:
                acc.deadline_misses += 1
        if exception is None:
            acc.ok_values.append(us)
        else:
            acc.err_values.append(us)
            acc.failures += 1
            acc.sum_us_failed += us
            if missed:
                acc.deadline_misses_failed += 1
            cls = type(exception).__name__ if isinstance(exception, BaseException) else "Error"
            acc.errors[cls] = acc.errors.get(cls, 0) + 1

    def merge(self, cw: ClosedWindow) -> None:
        """Merge a window closed elsewhere (a worker) into the open windows of this process."""
        key = (cw.second, cw.request_type, cw.name, cw.phase)
        acc = self._open.get(key)
        if acc is None:
            late = cw.second <= self._watermark
            acc = WindowAccumulator(cw.second, cw.request_type, cw.name, cw.phase, late)
            self._open[key] = acc
        acc.merge(cw)

    # -- output ----------------------------------------------------------------------------

    def close_due(self, now: float | None = None) -> list[ClosedWindow]:
        """Close every window no in-flight request can still land in (and every late delta)."""
        now = time.time() if now is None else now
        cutoff = math.floor(now - 1.0 - self.grace)
        self._watermark = max(self._watermark, cutoff)
        closed = self._close(lambda k: k[0] <= cutoff)
        if len(self._late_seq) > 1000:
            oldest = now - _LATE_SEQ_HORIZON_S
            self._late_seq = {k: v for k, v in self._late_seq.items() if k[0] >= oldest}
        return closed

    def close_all(self) -> list[ClosedWindow]:
        """Close everything (end of the run: no request is in flight any more)."""
        if self._open:
            self._watermark = max(self._watermark, max(k[0] for k in self._open))
        return self._close(lambda k: True)

    @property
    def open_windows(self) -> int:
        return len(self._open)

    @property
    def open_samples(self) -> int:
        return sum(a.count for a in self._open.values())

    def _close(self, due: Any) -> list[ClosedWindow]:
        keys = [k for k in self._open if due(k)]
        keys.sort(key=lambda k: (k[0], str(k[1]), str(k[2]), k[3]))
        out: list[ClosedWindow] = []
        for k in keys:
            acc = self._open.pop(k)
            seq = 0
            if acc.late:
                seq = self._late_seq.get(k, 0) + 1
                self._late_seq[k] = seq
            out.append(acc.close(seq))
        return out
