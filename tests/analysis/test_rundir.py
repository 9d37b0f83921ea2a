"""The run directory: written as the run goes, read back, damaged or foreign ones rejected."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest

from chaosbench.analysis.model import Integrity
from chaosbench.analysis.recording import Recorder
from chaosbench.analysis.rundir import FORMAT_VERSION, RunDirWriter, UnfinishedRunWarning, load
from chaosbench.analysis.rundir.meta import mask_secrets, sanitize_options
from chaosbench.ground.errors import RunDirError
from chaosbench.ground.journal import JournalRecord
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
    w.start({"run_id": "r1", "start": T0, "options": {}})
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
    assert data.meta["format_version"] == FORMAT_VERSION
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
    assert mask_secrets("postgresql://u@h/db") == "postgresql://u@h/db"


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
