"""Streaming to a real VictoriaMetrics (InfluxDB v2 write API): delivery, outage, spool, send."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import gevent
import pytest

from chaosbench.analysis.influx import InfluxConfig, InfluxStreamer, Spool, schema
from chaosbench.analysis.recording import ClosedWindow, Recorder
from chaosbench.analysis.rundir import RunDirWriter
from chaosbench.analysis.rundir import format as fmt
from chaosbench.analysis.rundir.record import RunRecord
from chaosbench.ground.journal import JournalRecord
from chaosbench.ground.timeline import Phase, PhaseMark, PhaseTimeline
from tests.analysis.conftest import VictoriaMetrics
from tests.conftest import ROOT, free_port, wait_until

T0 = 1_790_000_000.0
TOKEN = "tok-never-stored-8e41"


def _windows(seconds: int = 30, keys: int = 4, per: int = 10) -> list[ClosedWindow]:
    tl = PhaseTimeline()
    tl.append(PhaseMark(T0, Phase.BASELINE))
    tl.append(PhaseMark(T0 + seconds / 2, Phase.BURST, 1, ("f",)))
    r = Recorder(tl)
    r.active = True
    for s in range(seconds):
        for k in range(keys):
            for i in range(per):
                exc = TimeoutError() if i == 0 else None
                r.on_request("HTTP", f"/k{k}", 1.0 + i, exception=exc, start_time=T0 + s + i / per)
    return r.close_all()


def _cfg(url: str) -> InfluxConfig:
    cfg = InfluxConfig.build(url, "org", "bucket", TOKEN, timeout_s=2.0)
    assert cfg is not None
    return cfg


def _drive(streamer: InfluxStreamer, cond: object, timeout: float) -> None:
    """Let the gevent hub run (the streamer's drain is cooperative) until ``cond`` holds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not cond():  # type: ignore[operator]
        gevent.sleep(0.05)


def test_windows_and_events_arrive_with_the_schema(
    victoria: VictoriaMetrics, tmp_path: Path
) -> None:
    ws = _windows()
    total = sum(w.count for w in ws)
    failures = sum(w.failures for w in ws)
    st = InfluxStreamer(_cfg(victoria.url), Spool(tmp_path / "spool"), "run-a").start()
    st.submit_windows(ws)
    rec = JournalRecord("inject", "f", "latency", "pg", 1, None, T0 + 15, T0 + 15.2)
    st.submit_event(rec)
    st.write_verdict(1, "fail", ended=T0 + 40)
    assert st.drain(20) == {}
    assert victoria.total("chaosbench_window_count", run_id="run-a") == total
    assert victoria.total("chaosbench_window_failures", run_id="run-a") == failures
    assert victoria.total("chaosbench_window_count", run_id="run-a", status="error") == failures
    series = victoria.export('chaosbench_window_p99{run_id="run-a"}')
    labels = {k for s in series for k in s["metric"]} - {"__name__"}  # type: ignore[union-attr]
    assert labels == set(schema.WINDOW_TAGS)
    phases = {s["metric"]["phase"] for s in series}  # type: ignore[index]
    assert phases == {"baseline", "burst1"}
    for f in schema.WINDOW_FIELDS:
        assert victoria.points(f"{schema.WINDOW}_{f}", run_id="run-a") == 30 * 4 * 2
    assert victoria.points("chaosbench_event_value", run_id="run-a", kind="inject") == 1
    assert victoria.total("chaosbench_run_exit_code", run_id="run-a") == 1


def test_outage_keeps_everything_and_delivers_oldest_first(tmp_path: Path) -> None:
    vm = VictoriaMetrics(tmp_path / "vm", tmp_path / "vm.log")
    vm.start()
    try:
        ws = _windows(seconds=60)
        spool = Spool(tmp_path / "spool", segment_bytes=20_000)  # several segments
        st = InfluxStreamer(_cfg(vm.url), spool, "run-b", batch_lines=50).start()
        st.submit_windows(ws[:80])
        _drive(st, lambda: spool.pending_bytes() == 0, 15)
        vm.stop()
        for i in range(80, len(ws), 20):  # one append per tick, as in a run
            st.submit_windows(ws[i : i + 20])
        _drive(st, lambda: st.stats.failures > 0, 15)
        assert st.stats.failures > 0 and spool.pending_bytes() > 0
        assert len(spool.segments()) > 1
        vm.start()
        assert st.drain(30) == {}
        assert st.stats.outages, "the streamer saw the outage end"
        assert vm.total("chaosbench_window_count", run_id="run-b") == sum(w.count for w in ws)
        assert spool.segments() == [spool.segments()[-1]]  # delivered segments are removed
    finally:
        vm.stop()


def test_server_down_reports_undelivered_then_send_delivers(tmp_path: Path) -> None:
    run_dir = tmp_path / "run-c"
    writer = RunDirWriter(run_dir)
    writer.create()
    # not started yet; deduplicating like InfluxDB, for the re-send of the whole run below
    vm = VictoriaMetrics(tmp_path / "vm", tmp_path / "vm.log", dedup=True)
    writer.start(RunRecord("run-c", T0, influx=_cfg(vm.url).public()))
    ws = _windows(seconds=10)
    st = InfluxStreamer(_cfg(vm.url), Spool(run_dir / fmt.SPOOL_DIR), "run-c").start()
    st.submit_windows(ws)
    t = time.monotonic()
    left = st.drain(1.0)
    assert time.monotonic() - t < 3
    assert left == {schema.WINDOW: 10 * 4 * 2}
    # the token is nowhere in the run directory
    for p in run_dir.rglob("*"):
        if p.is_file():
            assert TOKEN not in p.read_text(errors="replace"), p
    vm.start()
    try:
        out = subprocess.run(
            [sys.executable, "-m", "chaosbench.analysis.influx", "send", str(run_dir)],
            cwd=ROOT,
            env={"INFLUX_TOKEN": TOKEN, "PATH": "/usr/bin:/bin"},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert out.returncode == 0, out.stderr
        assert "sent 80 lines" in out.stdout and TOKEN not in out.stdout + out.stderr
        assert vm.total("chaosbench_window_count", run_id="run-c") == sum(w.count for w in ws)
        writer.append_windows(ws)  # as the run would have
        writer.close()
        resend = subprocess.run(
            [sys.executable, "-m", "chaosbench.analysis.influx", "send", str(run_dir), "--all"],
            cwd=ROOT, env={"INFLUX_TOKEN": TOKEN, "PATH": "/usr/bin:/bin"},
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert resend.returncode == 0, resend.stderr
        # the same points overwrite themselves: nothing is counted twice
        assert vm.total("chaosbench_window_count", run_id="run-c") == sum(w.count for w in ws)
        again = subprocess.run(
            [sys.executable, "-m", "chaosbench.analysis.influx", "send", str(run_dir)],
            cwd=ROOT,
            env={"PATH": "/usr/bin:/bin"},
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert again.returncode == 2
        assert again.stderr.strip() == (
            "chaosbench: --influx-url is set but --influx-token (or INFLUX_TOKEN) missing"
        )
    finally:
        vm.stop()


def test_spool_is_bounded(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool", max_bytes=10_000)
    line = "m,run_id=x f=1i 1"
    assert spool.append([line] * 100) == 0
    refused = spool.append([line] * 1000)
    assert refused == 1000 and spool.refused_lines == 1000
    assert spool.pending_lines() == {"m": 100}
    assert sum(p.stat().st_size for p in spool.path.glob("*.lp")) <= 10_000


def test_loop_lag_stays_low_while_the_sender_flushes(
    victoria: VictoriaMetrics, tmp_path: Path
) -> None:
    """In a monkey-patched process (as under Locust): a 20 000-line backlog is flushed by the
    sender thread while a LoopLagProbe runs."""
    script = f"""
from gevent import monkey; monkey.patch_all()
import sys, time, gevent
sys.path.insert(0, {str(ROOT)!r})
from pathlib import Path
from chaosbench.analysis.influx import InfluxConfig, InfluxStreamer, Spool
from chaosbench.users.looplag import LoopLagProbe
tags = "run_id=lag,request_type=HTTP,phase=baseline,status=ok"
lines = [
    f"chaosbench_window,{{tags}},name=/k{{i % 50}} count=1i,p99=1.5 {{1790000000000 + i}}"
    for i in range(20000)
]
spool = Spool(Path({str(tmp_path / "spool")!r}))
spool.append(lines)
cfg = InfluxConfig.build({victoria.url!r}, "o", "b", "t")
with LoopLagProbe(interval=0.005) as probe:
    st = InfluxStreamer(cfg, spool, "lag", batch_lines=2000).start()
    t = time.monotonic()
    left = st.drain(60)
    took = time.monotonic() - t
print(probe.max_lag, probe.samples, took, sum(left.values()), st.stats.batches)
"""
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 0, out.stderr
    max_lag, samples, _took, left, batches = out.stdout.split()
    assert int(left) == 0 and int(batches) >= 10
    assert int(samples) > 5, "the probe ran while the sender flushed"
    print("loop lag while flushing 20000 lines:", max_lag, "s;", samples, "probe samples")
    assert float(max_lag) < 0.050, f"loop lag {float(max_lag) * 1000:.1f} ms while flushing"
    assert victoria.points("chaosbench_window_count", run_id="lag") == 20000


def test_incomplete_config_names_what_is_missing() -> None:
    from chaosbench.ground.errors import OptionError

    assert InfluxConfig.build(None, None, None, None) is None
    with pytest.raises(OptionError, match=r"--influx-org \(or INFLUX_ORG\), --influx-bucket"):
        InfluxConfig.build("http://127.0.0.1:1", None, None, "t")
    with pytest.raises(OptionError, match="expected http"):
        InfluxConfig.build("127.0.0.1:8086", "o", "b", "t")
    cfg = InfluxConfig.build(f"http://127.0.0.1:{free_port()}", "o", "b", TOKEN)
    assert TOKEN not in repr(cfg) and TOKEN not in str(cfg.public() if cfg else "")


def test_a_password_in_the_influx_url_is_never_shown() -> None:
    from chaosbench.ground.errors import OptionError

    port = free_port()
    cfg = InfluxConfig.build(f"http://u:s3cr3t@127.0.0.1:{port}", "o", "b", TOKEN)
    assert cfg is not None and cfg.url == f"http://u:s3cr3t@127.0.0.1:{port}"  # used to send
    assert cfg.public()["url"] == cfg.shown_url == f"http://u:***@127.0.0.1:{port}"
    with pytest.raises(OptionError) as err:
        InfluxConfig.build("ftp://u:s3cr3t@127.0.0.1:1", "o", "b", TOKEN)
    assert "s3cr3t" not in str(err.value) and "ftp://u:***@" in str(err.value)
    with pytest.raises(OptionError, match="expected http"):
        InfluxConfig.build("http://u:s3cr3t@127.0.0.1:port", "o", "b", TOKEN)


def test_line_protocol_escapes_tags() -> None:
    ln = schema.line("m", {"name": "a b,c=d"}, {"text": 'say "hi"', "n": 3, "x": 1.5}, 7)
    assert ln == 'm,name=a\\ b\\,c\\=d text="say \\"hi\\"",n=3i,x=1.5 7'
    wait_until(lambda: True)


def test_docs_name_every_measurement_tag_and_field() -> None:
    doc = (ROOT / "docs" / "influxdb.md").read_text()
    for measurement, (tags, fields) in schema.MEASUREMENTS.items():
        assert f"## {measurement}" in doc
        for name in (*tags, *fields):
            assert f"`{name}`" in doc, f"docs/influxdb.md does not document {measurement}.{name}"


def test_a_server_that_never_answers_times_out_and_keeps_the_data(tmp_path: Path) -> None:
    import socket

    with socket.socket() as srv:  # accepts connections (backlog) and never answers
        srv.bind(("127.0.0.1", 0))
        srv.listen(16)
        url = f"http://127.0.0.1:{srv.getsockname()[1]}"
        cfg = InfluxConfig.build(url, "o", "b", TOKEN, timeout_s=0.5)
        assert cfg is not None
        spool = Spool(tmp_path / "spool")
        st = InfluxStreamer(cfg, spool, "hang").start()
        ws = _windows(seconds=5)
        points = sum(len(schema.window_lines(w, "hang")) for w in ws)
        st.submit_windows(ws)
        _drive(st, lambda: st.stats.failures > 0, 15)
        t = time.monotonic()
        left = st.drain(1.0)
        assert time.monotonic() - t < 3
    assert left == {schema.WINDOW: points}
    assert st.stats.lines_sent == 0 and st.stats.last_error
    assert "timed out" in st.stats.last_error.lower() or "timeout" in st.stats.last_error.lower()
