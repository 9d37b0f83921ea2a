"""The table ``python -m bench`` writes to docs/performance.md, from figures fed through emit()
(no real benchmark runs here)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from bench import __main__ as bench_main
from bench._figures import END, ENV, START, Figure, Machine, emit, parse_rows, read, update_doc

ROOT = Path(__file__).resolve().parent.parent
MACHINE = Machine(2, "Test CPU @ 2.0GHz", "6.1.0-test")
PROSE_TOP = "# Performance\n\nHand-written prose above.\n\n"
PROSE_BOTTOM = "\n\n## Notes\n\nHand-written prose below.\n"


def feed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, figs: list[Figure]) -> list[Figure]:
    path = tmp_path / "figures.jsonl"
    monkeypatch.setenv(ENV, str(path))
    for f in figs:
        emit(f)
    return read(path)


def test_emit_records_every_figure_with_its_load(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    got = feed(
        tmp_path,
        monkeypatch,
        [
            Figure("users", "Redis user / bare redis-py", "93.1 %", "≥ 90 %", True),
            Figure("users", "wrk", "119 771 req/s", load="1.00 2.00 3.00"),
        ],
    )
    assert [f.name for f in got] == ["Redis user / bare redis-py", "wrk"]
    assert got[0].load and len(got[0].load.split()) == 3  # measured when emitted
    assert got[1].load == "1.00 2.00 3.00"
    out = capsys.readouterr().out
    assert "figure: Redis user / bare redis-py: 93.1 % (target ≥ 90 %: met)" in out


def test_table_replaces_its_section_and_keeps_the_prose(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    figs = feed(
        tmp_path,
        monkeypatch,
        [
            Figure("load_throughput", "Redis user / bare", "88.0 %", "≥ 90 %", False, "4.1 3 2"),
            Figure("recording", "harness on / off", "97 %", "≥ 95 %", True, "2.0 2.0 2.0"),
            Figure("recording", "a | b", "1 µs", load="1 1 1"),
        ],
    )
    old = f"{PROSE_TOP}{START}\nstale table\n| x | y |\n{END}{PROSE_BOTTOM}"
    text = update_doc(old, figs, MACHINE, "2026-12-02 04:00 UTC", "3.00 2.00 1.00")
    assert text.startswith(PROSE_TOP) and text.endswith(PROSE_BOTTOM)
    assert "stale table" not in text
    section = text[text.index(START) : text.index(END)]
    assert "2 cores, Test CPU @ 2.0GHz, Linux 6.1.0-test" in section
    assert "2026-12-02 04:00 UTC" in section and "3.00 2.00 1.00" in section
    rows = parse_rows(section)
    assert [(r.bench, r.figure, r.value, r.met) for r in rows] == [
        ("load_throughput", "Redis user / bare", "88.0 %", "**no**"),
        ("recording", "harness on / off", "97 %", "yes"),
        ("recording", "a | b", "1 µs", ""),  # the pipe is escaped in the cell and read back
    ]
    assert rows[0].load == "4.1 3 2" and rows[0].measured == "2026-12-02"
    assert "| a \\| b |" in section


def test_a_rerun_of_one_bench_keeps_the_rows_of_the_others(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = [
        Figure("analysis_time", "wall", "4.3 s", "< 5 s", True, "1 1 1"),
        Figure("recording", "on / off", "90 %", "≥ 95 %", False, "1 1 1"),
    ]
    text = update_doc(PROSE_TOP.rstrip("\n"), first, MACHINE, "2026-12-01 10:00 UTC", "1 1 1")
    assert text.startswith(PROSE_TOP) and "## Measured figures" in text  # no markers: added
    again = [Figure("recording", "on / off", "96 %", "≥ 95 %", True, "2 2 2")]
    text = update_doc(text, again, MACHINE, "2026-12-02 10:00 UTC", "2 2 2")
    rows = parse_rows(text[text.index(START) : text.index(END)])
    assert [(r.bench, r.value, r.measured) for r in rows] == [
        ("analysis_time", "4.3 s", "2026-12-01"),
        ("recording", "96 %", "2026-12-02"),
    ]
    assert text.count(START) == 1 and text.count(END) == 1


def test_a_partial_rerun_of_a_bench_replaces_only_the_figures_it_measured() -> None:
    first = [
        Figure("load_throughput", "Redis user / bare", "124 %", "≥ 90 %", True, "1 1 1"),
        Figure("load_throughput", "PG user / bare", "83 %", "≥ 90 %", False, "1 1 1"),
    ]
    text = update_doc(PROSE_TOP.rstrip("\n"), first, MACHINE, "2026-12-01 10:00 UTC", "1 1 1")
    pg_only = [
        Figure("load_throughput", "PG user / bare", "113 %", "≥ 90 %", True, "2 2 2"),
        Figure("load_throughput", "PG user / pgbench", "0.55", "", None, "2 2 2"),
    ]
    text = update_doc(text, pg_only, MACHINE, "2026-12-02 10:00 UTC", "2 2 2")
    rows = parse_rows(text[text.index(START) : text.index(END)])
    assert [(r.figure, r.value, r.measured) for r in rows] == [
        ("Redis user / bare", "124 %", "2026-12-01"),  # not measured again: kept, with its date
        ("PG user / bare", "113 %", "2026-12-02"),  # replaced in place
        ("PG user / pgbench", "0.55", "2026-12-02"),  # new
    ]


def test_write_table_from_a_figures_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    figs = feed(tmp_path, monkeypatch, [Figure("sut_throughput", "GET quote", "9 000 req/s")])
    doc = tmp_path / "performance.md"
    doc.write_text(f"{PROSE_TOP}{START}\n{END}{PROSE_BOTTOM}")
    assert bench_main.write_table(doc, tmp_path / "figures.jsonl") == len(figs) == 1
    text = doc.read_text()
    assert "| sut_throughput | GET quote | 9 000 req/s |" in text
    assert text.endswith(PROSE_BOTTOM)
    assert bench_main.write_table(doc, tmp_path / "none.jsonl") == 0  # nothing run: untouched
    assert doc.read_text() == text


def test_the_project_doc_has_one_table_section() -> None:
    text = (ROOT / "docs" / "performance.md").read_text()
    assert text.count(START) == 1 and text.count(END) == 1
    assert text.index(START) < text.index(END)


def test_an_unknown_bench_is_one_line_before_anything_runs() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "bench", "no_such_bench"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2
    assert out.stderr.strip().count("\n") == 0
    assert "no benchmark named no_such_bench" in out.stderr and "recording" in out.stderr
    assert "==" not in out.stdout
