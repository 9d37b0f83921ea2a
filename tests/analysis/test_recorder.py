"""The recorder: phase attribution at start, per-second windows, late deltas, worker merging."""

from __future__ import annotations

import random
import tracemalloc

from chaosbench.analysis.hdr import percentiles
from chaosbench.analysis.model import HDR_HIGHEST_US, new_histogram
from chaosbench.analysis.recording import Recorder
from chaosbench.analysis.recording.window import ClosedWindow
from chaosbench.analysis.rundir.loader import merge_windows
from chaosbench.ground.timeline import Phase, PhaseMark, PhaseTimeline

T0 = 1_800_000_000.0


def _timeline() -> PhaseTimeline:
    tl = PhaseTimeline()
    tl.append(PhaseMark(T0, Phase.BASELINE))
    tl.append(PhaseMark(T0 + 10, Phase.BURST, burst=1, faults=("slow_pg",)))
    tl.append(PhaseMark(T0 + 20, Phase.RECOVERY, burst=1))
    return tl


def _rec(grace: float = 2.0) -> Recorder:
    r = Recorder(_timeline(), grace=grace)
    r.active = True
    return r


def test_sample_attributed_to_phase_at_start_not_end() -> None:
    r = _rec()
    # starts in the baseline, ends 3 s later inside burst 1
    r.on_request("PG", "insert", 3000.0, start_time=T0 + 9.5)
    r.on_request("PG", "insert", 1.0, start_time=T0 + 10.2)
    (base, burst) = r.close_all()
    assert (base.phase, base.second, base.count) == ("baseline", int(T0 + 9), 1)
    assert (burst.phase, burst.second, burst.faults) == ("burst1", int(T0 + 10), ["slow_pg"])


def test_counts_failures_deadlines_error_classes_and_exact_percentiles() -> None:
    r = _rec()
    for i in range(1, 101):
        r.on_request("HTTP", "/q", i * 0.1, context={"deadline_ms": 5.0}, start_time=T0 + 1.2)
    r.on_request("HTTP", "/q", 7.0, exception=TimeoutError("x"), start_time=T0 + 1.3)
    r.on_request("HTTP", "/q", 1.0, exception=ConnectionError("y 1"), start_time=T0 + 1.4)
    r.on_request("HTTP", "/q", 1.0, exception="a string", start_time=T0 + 1.4)
    (w,) = r.close_all()
    assert (w.count, w.failures) == (103, 3)
    assert w.deadline_misses == 50  # 5.1 .. 10.0 ms (the failures carry no deadline)
    assert w.errors == {"TimeoutError": 1, "ConnectionError": 1, "Error": 1}
    # HDR: 3 significant digits on microseconds
    assert w.hist_ok is not None
    p50, p99 = percentiles(w.hist_ok, (50, 99))
    assert abs(p50 - 5000) <= 5 and abs(p99 - 9900) <= 10
    assert w.sum_us == sum(i * 100 for i in range(1, 101)) + 9000


def test_window_stays_open_for_grace_then_late_samples_become_deltas() -> None:
    r = _rec(grace=2.0)
    r.on_request("REDIS", "GET", 1.0, start_time=T0 + 5.5)
    assert r.close_due(now=T0 + 7.9) == []  # 5 + 1 + 2 > 7.9: still open
    (w,) = r.close_due(now=T0 + 8.0)
    assert (w.second, w.late) == (int(T0 + 5), 0)
    # a 4 s request that started in second 5 ends after the window closed
    r.on_request("REDIS", "GET", 4000.0, start_time=T0 + 5.9)
    r.on_request("REDIS", "GET", 4000.0, start_time=T0 + 5.1)
    (d1,) = r.close_due(now=T0 + 9.0)
    assert (d1.second, d1.late, d1.count) == (int(T0 + 5), 1, 2)
    r.on_request("REDIS", "GET", 9000.0, start_time=T0 + 5.2)
    (d2,) = r.close_due(now=T0 + 10.0)
    assert d2.late == 2
    assert r.late_samples == 3
    (merged,) = merge_windows([w, d1, d2])
    assert merged.count == 4 and merged.histogram.get_total_count() == 4


def test_worker_windows_merge_like_one_process() -> None:
    direct, w1, w2, master = _rec(), _rec(), _rec(), _rec()
    for i in range(200):
        start = T0 + 9 + (i % 30) / 10  # spans baseline -> burst1
        worker = w1 if i % 2 else w2
        for rec in (direct, worker):
            rec.on_request("WS", "quote", 0.5 + i, start_time=start, exception=None)
    for worker in (w1, w2):
        for cw in worker.close_all():
            master.merge(ClosedWindow.from_json(cw.to_json()))  # as sent in a Locust message
    a = {(c.second, c.phase): c for c in direct.close_all()}
    b = {(c.second, c.phase): c for c in master.close_all()}
    assert a.keys() == b.keys()
    for k in a:
        assert (a[k].count, a[k].sum_us) == (b[k].count, b[k].sum_us)
        assert a[k].histogram().get_total_count() == b[k].histogram().get_total_count()
        assert percentiles(a[k].histogram(), (50, 99)) == percentiles(b[k].histogram(), (50, 99))


def test_memory_stays_bounded_however_long_the_run() -> None:
    r = _rec(grace=2.0)
    tracemalloc.start()
    peaks = []
    for second in range(600):
        for i in range(50):
            r.on_request("HTTP", f"/r{i % 5}", 1.0 + i, start_time=T0 + 30 + second + i / 50)
        closed = r.close_due(now=T0 + 30 + second + 1)
        for cw in closed:  # the session writes them out and drops them
            cw.release()
        if second in (60, 599):
            peaks.append(tracemalloc.get_traced_memory()[0])
    tracemalloc.stop()
    assert r.open_windows <= 5 * 4
    assert peaks[1] < peaks[0] * 1.5 + 200_000


def test_inactive_recorder_ignores_samples() -> None:
    r = Recorder(_timeline())
    r.on_request("HTTP", "/", 1.0, start_time=T0)
    assert r.samples == 0 and r.close_all() == []


def test_odd_inputs_do_not_break_the_windows() -> None:
    r = _rec()
    r.on_request("HTTP", None, -3.0, start_time=T0 + 1)  # type: ignore[arg-type]
    r.on_request("HTTP", "/x", None, start_time=T0 + 1)
    r.on_request("HTTP", "/x", 7_200_000.0, start_time=T0 + 1)  # 2 h: beyond the HDR range
    windows = {w.name: w for w in r.close_all()}
    assert windows["None"].count == 1 and windows["None"].hist_ok is not None
    assert windows["None"].hist_ok.get_max_value() == 1
    assert windows["/x"].count == 2
    assert ClosedWindow.from_json(windows["/x"].to_json()).count == 2


def test_closing_records_each_distinct_value_with_its_count_like_one_by_one() -> None:
    rnd = random.Random(3)
    values = [1, 1, 1, 250, 250, 2047, 2048, 2049, 123_456, 123_457, 7_200_000_000]
    values += [HDR_HIGHEST_US, HDR_HIGHEST_US + 1, HDR_HIGHEST_US + 10**6, 2**53 + 1, 2**70]
    values += [max(1, int(rnd.lognormvariate(7.0, 3.0))) for _ in range(5000)]
    r = _rec()
    for v in values:
        r.on_request("REDIS", "GET", v / 1000.0, start_time=T0 + 1)
    (w,) = r.close_all()
    one_by_one = new_histogram()
    for v in values:
        if not one_by_one.record_value(v):  # beyond the range: clamped
            assert one_by_one.record_value(HDR_HIGHEST_US)
    assert w.hist_ok is not None
    assert w.hist_ok.get_total_count() == len(values) == one_by_one.get_total_count()
    assert list(w.hist_ok.counts) == list(one_by_one.counts)  # the 2 h sample is clamped
    assert w.hist_ok.get_min_value() == one_by_one.get_min_value() == 1
    assert w.hist_ok.get_max_value() == one_by_one.get_max_value()
    assert (w.hist_ok.min_value, w.hist_ok.max_value) == (1, one_by_one.max_value)
    again = ClosedWindow.from_json(w.to_json())  # the run directory's round trip
    assert again.hist_ok is not None and list(again.hist_ok.counts) == list(one_by_one.counts)
