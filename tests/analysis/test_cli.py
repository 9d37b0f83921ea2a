"""``python -m chaosbench.analysis`` on real run directories written with the recorder's writer."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from chaosbench.analysis.model import Integrity
from chaosbench.analysis.synthetic import SyntheticSpec, generate, write_run_dir
from chaosbench.analysis.verdict import conclude

ROOT = Path(__file__).resolve().parents[2]
CLEAN = Integrity(orders_acknowledged=100, orders_stored=100, checked=True, ws_messages=500)


def cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "chaosbench.analysis", *map(str, args)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )


@pytest.fixture(scope="module")
def truth_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_run_dir(
        generate(SyntheticSpec(seed=14, integrity=CLEAN)), tmp_path_factory.mktemp("r") / "run"
    )


def test_tight_gate_exit_1_and_reports_in_the_run_dir(truth_dir: Path) -> None:
    p = cli(truth_dir, "--gate", ROOT / "gates/tight.yaml")
    assert p.returncode == 1, p.stdout + p.stderr
    assert "chaosbench verdict: FAIL (exit 1)" in p.stdout
    assert f"chaosbench report: {truth_dir / 'report.md'}" in p.stdout
    for name in ("report.md", "report.html", "junit.xml", "findings.json"):
        assert (truth_dir / name).stat().st_size > 0


def test_loose_gate_exit_0_with_out_dir(truth_dir: Path, tmp_path: Path) -> None:
    p = cli(truth_dir, "--gate", ROOT / "gates/loose.yaml", "--out", tmp_path / "o")
    assert p.returncode == 0, p.stdout + p.stderr
    assert "PASS (exit 0)" in p.stdout and (tmp_path / "o/report.html").exists()


def test_against_a_baseline_run_dir(truth_dir: Path, tmp_path: Path) -> None:
    base = write_run_dir(
        generate(SyntheticSpec(seed=15, added_ms=0.0, integrity=CLEAN)), tmp_path / "base"
    )
    p = cli(truth_dir, "--baseline", base, "--gate", ROOT / "gates/loose.yaml", "--out", tmp_path)
    assert p.returncode == 1 and "baseline_run" in p.stdout


@pytest.mark.parametrize(
    ("args", "expect"),
    [
        ((), "required: RUN_DIR"),
        (("/nonexistent/run",), "/nonexistent/run: no such directory"),
        (("{run}", "--bogus"), "unrecognized arguments: --bogus"),
        (("{run}", "--gate", "/nonexistent.yaml"), "gate config /nonexistent.yaml: cannot read"),
        (("{run}", "--baseline", "/nonexistent/b"), "baseline run /nonexistent/b"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    truth_dir: Path, args: tuple[str, ...], expect: str
) -> None:
    p = cli(*(a.format(run=truth_dir) for a in args))
    assert p.returncode == 2
    lines = p.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("chaosbench: ") and expect in lines[0]
    assert "Traceback" not in p.stderr + p.stdout


def test_bad_gate_yaml(truth_dir: Path, tmp_path: Path) -> None:
    g = tmp_path / "g.yaml"
    g.write_text("criteria:\n  p99_celing: {limit: 10}\n")
    p = cli(truth_dir, "--gate", g, "--out", tmp_path)
    assert p.returncode == 2 and "did you mean 'p99_ceiling'" in p.stderr


def test_damaged_run_directories(truth_dir: Path, tmp_path: Path) -> None:
    import shutil

    broken = tmp_path / "broken"
    shutil.copytree(truth_dir, broken)
    lines = (broken / "windows.jsonl").read_text().splitlines()
    damaged = [*lines[:10], lines[10][:40], *lines[11:]]  # a garbled line in the middle
    (broken / "windows.jsonl").write_text("\n".join(damaged) + "\n")
    p = cli(broken)
    assert p.returncode == 2 and "windows.jsonl" in p.stderr and "Traceback" not in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1

    empty = tmp_path / "empty"
    empty.mkdir()
    p = cli(empty)
    assert p.returncode == 2 and "not a chaosbench run directory" in p.stderr


def test_conclude_never_raises(tmp_path: Path) -> None:
    import io

    out, err = io.StringIO(), io.StringIO()
    assert conclude(tmp_path / "missing", None, None, out=out, err=err) == 2
    assert err.getvalue().startswith("chaosbench: ") and out.getvalue() == ""
