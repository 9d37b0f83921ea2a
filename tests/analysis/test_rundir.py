"""The run directory: written as the run goes, read back, damaged or foreign ones rejected."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest

from chaosbench.analysis.model import Integrity
from chaosbench.analysis.recording import Recorder
from chaosbench.analysis.rundir import (
    FORMAT_VERSION,
    RunDirWriter,
    UnfinishedRunWarning,
    load,
    read_meta,
)
from chaosbench.analysis.rundir.meta import sanitize_options
from chaosbench.analysis.rundir.record import (
    FileDigest,
    LocustTotals,
    RecordedCounts,
    RecordingInfo,
    RunRecord,
    build_run_record,
)
from chaosbench.ground.errors import RunDirError
from chaosbench.ground.journal import JournalRecord
from chaosbench.ground.redact import redact
from chaosbench.ground.timeline import Phase, PhaseMark, PhaseTimeline

T0 = 1_800_000_000.0


def _write_run(path: Path, finish: bool = True) -> Recorder:
    tl = PhaseTimeline()
    marks = [
        PhaseMark(T0, Phase.BASELINE),
        PhaseMark(T0 + 3, Phase.BURST, 1, ("lat",)),
        PhaseMark(T0 + 5, Phase.RECOVERY, 1),
    ]
    w = RunDirWriter(path)
    w.create()
    w.start(RunRecord("r1", T0, seed=7))
    for m in marks:
        tl.append(m)
        w.append_journal(
            JournalRecord(
                kind="phase",
                name=m.label,
                type=m.phase.value,
                burst=m.burst,
                start=m.wall,
                end=m.wall,
            )
        )
        w.append_mark(m)
    w.append_journal(
        JournalRecord(
            kind="inject",
            name="lat",
            type="latency",
            target="pg",
            burst=1,
            start=T0 + 3,
            end=T0 + 3.01,
        )
    )
    rec = Recorder(tl, grace=1.0)
    rec.active = True
    for i in range(800):
        rec.on_request(
            "PG", "q", 1.0 + i % 7, start_time=T0 + i / 100, exception=None if i % 10 else OSError()
        )
        if i % 100 == 99:
            w.append_windows(rec.close_due(now=T0 + i / 100))
    w.append_windows(rec.close_all())
    if finish:
        w.write_integrity(Integrity(orders_acknowledged=3, orders_stored=3, checked=True))
        w.write_injections({"lat": 1}, {})
        w.finish(T0 + 8)
    else:
        w.close()
    return rec


def test_round_trip(tmp_path: Path) -> None:
    run = tmp_path / "r1"
    rec = _write_run(run)
    data = load(run)
    assert data.run_id == "r1" and data.ended == T0 + 8 and data.started == T0
    assert sum(w.count for w in data.windows) == rec.samples == 800
    assert sum(w.failures for w in data.windows) == 80
    assert {w.key.phase for w in data.windows} == {"baseline", "burst1", "recovery1"}
    assert [(p.label, p.start, p.end) for p in data.phases] == [
        ("baseline", T0, T0 + 3),
        ("burst1", T0 + 3, T0 + 5),
        ("recovery1", T0 + 5, T0 + 8),
    ]
    assert data.injections == {"lat": 1}
    assert data.integrity.checked and data.integrity.orders_stored == 3
    assert [r.kind for r in data.journal].count("inject") == 1
    assert json.loads((run / "meta.json").read_text())["format_version"] == FORMAT_VERSION
    assert data.meta.seed == 7 and data.meta.end == T0 + 8 and data.meta.chaos_stopped is None
    # one window per (second, key) after merging
    keys = [(w.second, w.key) for w in data.windows]
    assert len(keys) == len(set(keys))


def test_crashed_run_loads_with_no_end_and_a_warning(tmp_path: Path) -> None:
    run = tmp_path / "r1"
    _write_run(run, finish=False)
    with pytest.warns(UnfinishedRunWarning, match="no end time"):
        data = load(run)
    assert data.ended is None and sum(w.count for w in data.windows) == 800
    assert data.integrity.checked is False


def test_truncated_window_line_is_rejected_with_file_and_line(tmp_path: Path) -> None:
    run = tmp_path / "r1"
    _write_run(run)
    path = run / "windows.jsonl"
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:-1]) + lines[-1][: len(lines[-1]) // 2])
    with pytest.raises(RunDirError, match=rf"windows\.jsonl:{len(lines)}: truncated line"):
        load(run)


def test_invalid_line_in_the_middle_is_rejected(tmp_path: Path) -> None:
    run = tmp_path / "r1"
    _write_run(run)
    path = run / "journal.jsonl"
    lines = path.read_text().splitlines(keepends=True)
    lines[1] = '{"kind": "phase", "nam\n'
    path.write_text("".join(lines))
    with pytest.raises(RunDirError, match=r"journal\.jsonl:2: invalid JSON line"):
        load(run)


def test_damaged_histogram_is_rejected(tmp_path: Path) -> None:
    run = tmp_path / "r1"
    _write_run(run)
    path = run / "windows.jsonl"
    lines = path.read_text().splitlines()
    first = json.loads(lines[0])
    first["hdr_ok"] = "HISTFAAAAnotreally"
    lines[0] = json.dumps(first)
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(RunDirError, match=r"windows\.jsonl:1: field 'hdr_ok' is not a valid HDR"):
        load(run)


def test_other_format_version_is_rejected(tmp_path: Path) -> None:
    run = tmp_path / "r1"
    _write_run(run)
    meta = json.loads((run / "meta.json").read_text())
    meta["format_version"] = FORMAT_VERSION + 1
    (run / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(RunDirError, match=r"meta\.json: run directory format version 2 is not"):
        load(run)


def test_foreign_directories_are_rejected(tmp_path: Path) -> None:
    with pytest.raises(RunDirError, match=r"meta\.json: missing; .* is not a chaosbench run"):
        load(tmp_path)
    (tmp_path / "meta.json").write_text('{"name": "something else"}')
    with pytest.raises(RunDirError, match="not chaosbench run metadata"):
        load(tmp_path)
    (tmp_path / "meta.json").write_text('{"format": "chaosbench-run", "format_')
    with pytest.raises(RunDirError, match="invalid or truncated JSON"):
        load(tmp_path)
    with pytest.raises(RunDirError, match="not a directory"):
        load(tmp_path / "nope")


def test_writer_refuses_to_overwrite_a_run(tmp_path: Path) -> None:
    run = tmp_path / "r1"
    _write_run(run)
    with pytest.raises(RunDirError, match="already holds a run"):
        RunDirWriter(run).create()


def test_secrets_are_removed_from_options() -> None:
    opts = {
        "influx_token": "s3cr3t",
        "sut_pg_dsn": "postgresql://app:hunter2@db:5432/x",
        "redis": "redis://:pw@127.0.0.1:6379/0",
        "url": "http://h/x?token=abc&a=1",
        "kv": "host=db password=hunter2 user=app",
        "users": 5,
    }
    out = sanitize_options(opts)
    text = json.dumps(out)
    for secret in ("s3cr3t", "hunter2", ":pw@", "abc"):
        assert secret not in text
    assert out["users"] == 5 and "influx_token" not in out
    assert out["sut_pg_dsn"] == "postgresql://app:***@db:5432/x"
    assert redact("postgresql://u@h/db") == "postgresql://u@h/db"


def test_no_warning_for_finished_runs(tmp_path: Path) -> None:
    run = tmp_path / "r1"
    _write_run(run)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        load(run)


def test_docs_describe_this_format_version_and_every_file() -> None:
    from chaosbench.analysis.rundir import format as fmt
    from tests.conftest import ROOT

    doc = (ROOT / "docs" / "run-directory.md").read_text()
    assert f"format version {FORMAT_VERSION}" in doc
    for name in (fmt.META, fmt.WINDOWS, fmt.JOURNAL, fmt.MARKS, fmt.INTEGRITY, fmt.INJECTIONS):
        assert f"`{name}`" in doc
    from chaosbench.analysis.recording.window import ClosedWindow

    for key in ClosedWindow.__dataclass_fields__:
        if key not in ("hist_ok", "hist_err"):
            assert f"`{key}`" in doc or f'"{key}"' in doc, key


def test_loaded_histograms_are_light_and_behave_like_hdr_histograms(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hdrh.histogram import HdrHistogram

    from chaosbench.analysis.model import new_histogram
    from chaosbench.analysis.rundir import lazyhist

    monkeypatch.setattr(lazyhist, "CACHE_SIZE", 3)
    run = tmp_path / "r1"
    _write_run(run)
    data = load(run)
    hists = [w.histogram for w in data.windows]
    assert len(hists) > 3 * 2
    assert all(isinstance(h, lazyhist.LazyHistogram) for h in hists)
    assert all(isinstance(h, HdrHistogram) for h in hists)
    assert sum(h.get_total_count() for h in hists) == 800
    assert len(lazyhist._cache) <= lazyhist.CACHE_SIZE
    # reads agree with a plain decoded copy; a merge into a plain histogram works
    first = hists[0]
    plain = HdrHistogram.decode(first.encode())
    assert first.get_value_at_percentile(99) == plain.get_value_at_percentile(99)
    merged = new_histogram()
    for h in hists:
        merged.add(h)
    assert merged.get_total_count() == 800
    # a modified histogram keeps its modification (it is decoded for good)
    before = first.get_total_count()
    first.record_value(1234)
    for h in hists[1:]:  # push it out of the cache if it were only cached
        h.get_max_value()
    assert first.get_total_count() == before + 1


def test_run_record_round_trips_through_meta_json(tmp_path: Path) -> None:
    profile = tmp_path / "p.yaml"
    profile.write_text("seed: 3\nproxy: {dsn: 'postgresql://u:hunter2@h/db'}\n")
    record = build_run_record(
        run_id="r9",
        seed=123456789,
        profile_path=str(profile),
        gate_path=None,
        gate_config={"version": 1},
        baseline=tmp_path / "base",
        options={"influx_token": "s3cr3t", "host": "http://127.0.0.1:1", "users": 3},
        mode="master",
        host="http://127.0.0.1:1",
        influx={"url": "http://127.0.0.1:2", "org": "o", "bucket": "b"},
        recording=RecordingInfo(grace_s=2.0, tick_s=1.0),
    )
    assert record.gate is None and record.seed == 123456789
    assert record.profile is not None and record.profile.sha256 and record.profile.text
    assert "hunter2" not in record.profile.text and "influx_token" not in record.options
    record.start = T0
    run = tmp_path / "r9"
    w = RunDirWriter(run)
    w.create()
    w.start(record)
    w.record_chaos_stopped("kill switch")
    w.finish(T0 + 5, LocustTotals(10, 1), RecordedCounts(10, 0, 4))
    on_disk = json.loads((run / "meta.json").read_text())
    # the JSON keeps the shape of format version 1
    assert on_disk["seed"] == 123456789 and on_disk["profile"]["sha256"]
    assert on_disk["locust"] == {"num_requests": 10, "num_failures": 1}
    assert on_disk["recorded"] == {"samples": 10, "late_samples": 0, "windows": 4}
    assert on_disk["recording"] == {"grace_s": 2.0, "tick_s": 1.0}
    back = read_meta(run)
    assert back == record  # the writer's record, with what it added at the end
    assert back.end == T0 + 5 and back.chaos_stopped == "kill switch"
    assert back.locust == LocustTotals(10, 1) and back.recorded == RecordedCounts(10, 0, 4)
    assert isinstance(back.profile, FileDigest) and back.mode == "master"


def test_an_older_meta_json_loads_and_unknown_keys_are_kept(tmp_path: Path) -> None:
    """A format-1 meta.json written before the typed record (no chaos_stopped, seed null)."""
    (tmp_path / "meta.json").write_text(
        json.dumps(
            {
                "format": "chaosbench-run",
                "format_version": 1,
                "run_id": "old",
                "start": T0,
                "end": None,
                "seed": None,
                "profile": {"path": "p.yaml", "sha256": None, "text": None},
                "options": {"users": 1},
                "synthetic": True,
            }
        )
    )
    meta = read_meta(tmp_path)
    assert meta.run_id == "old" and meta.seed is None and meta.end is None
    assert meta.profile == FileDigest("p.yaml", None, None)
    assert meta.extra == {"synthetic": True} and meta.locust is None


@pytest.mark.parametrize(
    ("key", "value"),
    [("seed", "7"), ("end", "soon"), ("locust", {"num_requests": "x"}), ("profile", [1])],
)
def test_a_wrong_meta_json_key_is_named(tmp_path: Path, key: str, value: object) -> None:
    data = {"format": "chaosbench-run", "format_version": 1, "run_id": "x", "start": T0}
    (tmp_path / "meta.json").write_text(json.dumps({**data, key: value}))
    with pytest.raises(RunDirError, match=rf"meta\.json: '{key}' must be"):
        read_meta(tmp_path)
