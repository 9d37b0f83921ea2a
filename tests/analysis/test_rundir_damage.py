"""Damaged run directories are refused: one bounded line naming the file (and line), exit 2,
early (before any histogram is decoded), never a verdict on what is left of them."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest

from chaosbench.analysis.rundir import UnfinishedRunWarning, load
from chaosbench.ground.errors import RunDirError
from chaosbench.ground.text import MAX_LINE
from tests.analysis.rundirs import copy_of, judge, set_field, write_small

ROOT = Path(__file__).resolve().parents[2]
PREFIX = "chaosbench: "


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_small(tmp_path_factory.mktemp("template") / "run")


@pytest.fixture
def run(template: Path, tmp_path: Path) -> Path:
    return copy_of(template, tmp_path / "run")


def _lines(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8").splitlines(keepends=True)


def refused(run: Path, *expect: str) -> str:
    """The analysis refuses ``run``: exit 2, one bounded line holding every ``expect``."""
    o = judge(run)
    assert o.code == 2, o.out + o.err
    assert len(o.error_lines) == 1, o.err
    line = o.error_lines[0]
    assert line.startswith(PREFIX) and len(line) <= len(PREFIX) + MAX_LINE, line[:400]
    assert "Traceback" not in o.err and "analysis failed" not in line, line
    for e in expect:
        assert e in line, line
    assert not o.out, o.out  # no verdict
    return line


def test_intact_directory_judges(run: Path) -> None:
    o = judge(run)
    assert o.code == 1 and "FAIL (exit 1)" in o.out, o.out + o.err


def test_deleted_journal_is_refused_not_passed(run: Path) -> None:
    # Was exit 0 (PASS), every phase criterion silently skipped, where the intact run fails.
    (run / "journal.jsonl").unlink()
    refused(run, "journal.jsonl: missing")


def test_emptied_journal_is_refused(run: Path) -> None:
    (run / "journal.jsonl").write_text("")
    refused(run, "marks.jsonl", "journal.jsonl")


def test_deleted_marks_are_refused(run: Path) -> None:
    (run / "marks.jsonl").unlink()
    refused(run, "marks.jsonl: missing")


def test_damaged_mark_line_is_refused_with_its_line(run: Path) -> None:
    path = run / "marks.jsonl"
    lines = _lines(path)
    lines[2] = lines[2][: len(lines[2]) // 2] + "\n"
    path.write_text("".join(lines))
    refused(run, "marks.jsonl:3: invalid JSON line")


def test_mark_with_a_string_for_its_time_is_refused(run: Path) -> None:
    set_field(run / "marks.jsonl", 1, "wall", "soon")
    refused(run, "marks.jsonl:2: field 'wall' must be a number")


def test_deleted_mark_line_is_refused(run: Path) -> None:
    path = run / "marks.jsonl"
    lines = _lines(path)
    path.write_text("".join(lines[:3] + lines[4:]))
    refused(run, "marks.jsonl: no mark for phase")


def test_window_lines_duplicated_4000_times_are_refused_early(run: Path) -> None:
    # Were merged as late deltas: counts multiplied, 112 s and 2.6 GB.
    path = run / "windows.jsonl"
    lines = _lines(path)
    path.write_text("".join(lines[:1] * 4000 + lines[1:]))
    refused(run, "windows.jsonl:2: the same window as line 1", "a duplicated line")


def test_string_where_a_number_belongs_names_file_line_and_field(run: Path) -> None:
    # Was "analysis failed: TypeError".
    set_field(run / "windows.jsonl", 4, "late", "1")
    refused(run, "windows.jsonl:5: field 'late' must be an integer")


def test_journal_record_with_a_string_time_is_refused(run: Path) -> None:
    set_field(run / "journal.jsonl", 0, "start", "early")
    refused(run, "journal.jsonl:1: field 'start' has the wrong type")


def test_a_200_kb_value_gives_a_bounded_line(run: Path) -> None:
    # Was a 200 KB "one-line" error.
    set_field(run / "windows.jsonl", 0, "count", "9" * 200_000)
    refused(run, "windows.jsonl:1: field 'count' must be an integer")
    set_field(run / "meta.json", None, "format_version", "x" * 200_000)
    refused(run, "meta.json", "format version")


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity", "1e999"])
def test_non_finite_numbers_are_refused(run: Path, constant: str) -> None:
    path = run / "windows.jsonl"
    lines = _lines(path)
    lines[3] = lines[3].replace('"failures":0', f'"failures":{constant}', 1)
    assert constant in lines[3]
    path.write_text("".join(lines))
    refused(run, "windows.jsonl:4: invalid JSON line")


def test_bad_utf8_names_its_line(run: Path) -> None:
    path = run / "journal.jsonl"
    data = path.read_bytes().split(b"\n")
    data[2] = data[2].replace(b'"name"', b'"na\xff\xfeme"', 1)
    path.write_bytes(b"\n".join(data))
    refused(run, "journal.jsonl:3: not UTF-8 text")


def test_window_line_removed_is_refused_by_the_recorded_count(run: Path) -> None:
    path = run / "windows.jsonl"
    lines = _lines(path)
    path.write_text("".join(lines[:-5]))
    refused(run, "windows.jsonl:", f"{len(lines) - 5} window lines", f"records {len(lines)}")


def test_window_outside_the_run_is_refused(run: Path) -> None:
    set_field(run / "windows.jsonl", 0, "second", 2**62)
    refused(run, "windows.jsonl:1: field 'second'", "outside the run")


def test_load_raises_run_dir_error_bounded(run: Path) -> None:
    (run / "marks.jsonl").write_bytes(b"[" * 100_000 + b"\n")
    with pytest.raises(RunDirError, match=r"marks\.jsonl:1: invalid JSON line") as e:
        load(run)
    assert len(str(e.value)) <= MAX_LINE


def _limit_memory() -> None:
    limit = 1536 * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def test_real_cli_refuses_duplicates_within_a_memory_limit(run: Path) -> None:
    """The real command, its address space bounded to 1.5 GB: refused with one line, exit 2."""
    path = run / "windows.jsonl"
    lines = _lines(path)
    path.write_text("".join(lines[:3] * 4000 + lines))
    env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1"}
    p = subprocess.run(
        [sys.executable, "-m", "chaosbench.analysis", str(run)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        env=env,
        preexec_fn=_limit_memory,
    )
    assert p.returncode == 2 and not p.stdout, p.stdout + p.stderr
    (line,) = p.stderr.splitlines()
    assert "windows.jsonl:4: the same window as line 1" in line and "Traceback" not in p.stderr


def test_run_killed_between_a_mark_and_its_journal_record_still_loads(run: Path) -> None:
    """The recorder writes a phase's mark, then its journal record: a kill in between leaves a
    last mark without its record. Such an unfinished run loads (with its warning); the same
    directory claiming to have finished is refused."""
    journal = run / "journal.jsonl"
    lines = _lines(journal)
    assert json.loads(lines[-1])["name"] == "cooldown"
    journal.write_text("".join(lines[:-1]))
    with pytest.raises(RunDirError, match=r"marks\.jsonl:\d+: phase 'cooldown' has no phase"):
        load(run)
    meta = json.loads((run / "meta.json").read_text())
    meta["end"], meta["recorded"] = None, None
    (run / "meta.json").write_text(json.dumps(meta))
    with pytest.warns(UnfinishedRunWarning):
        data = load(run)
    assert any(w.key.phase == "cooldown" for w in data.windows)


def test_chaosbench_analyze_refuses_a_deleted_journal(run: Path) -> None:
    (run / "journal.jsonl").unlink()
    exe = Path(sys.executable).with_name("chaosbench")
    p = subprocess.run(
        [str(exe), "analyze", str(run)], capture_output=True, text=True, cwd=ROOT, timeout=120
    )
    assert p.returncode == 2 and not p.stdout, p.stdout + p.stderr
    (line,) = p.stderr.splitlines()
    assert line.startswith(PREFIX) and "journal.jsonl: missing" in line
