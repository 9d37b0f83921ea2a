"""Analysis time and peak memory for a synthetic one-hour run directory.

Generates a one-hour run (10 min baseline, 8 bursts of 60 s, 6 keys, ~2 M requests) and writes
it as a real run directory with the recorder's writer. Then:

- the whole ``python -m chaosbench.analysis RUN_DIR`` process, run ``--repeat`` times as a child:
  its wall time, CPU time and peak RSS (``ru_maxrss`` of that child, from ``os.wait4``), with
  the load average before each run (the machine may be shared: CPU time is the steadier figure);
- the split inside one process: load, analyze + evaluate, write the reports.

    .venv/bin/python -m bench.analysis_time [--keep DIR] [--repeat N]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench._figures import Figure, emit
from chaosbench.analysis.gate import load_gate
from chaosbench.analysis.report import write_reports
from chaosbench.analysis.rundir import load
from chaosbench.analysis.synthetic import generate, one_hour, write_run_dir
from chaosbench.analysis.verdict import evaluate

WALL_BUDGET_S = 5.0
RSS_BUDGET_MB = 500.0


@dataclass(frozen=True, slots=True)
class ChildRun:
    wall_s: float
    cpu_s: float
    peak_mb: float
    exit_code: int
    load_before: float


def run_child(run_dir: Path, out_dir: Path) -> ChildRun:
    """One ``python -m chaosbench.analysis`` process: wall, CPU and peak RSS of that child."""
    load_before = os.getloadavg()[0]
    cmd = [sys.executable, "-m", "chaosbench.analysis", str(run_dir), "--out", str(out_dir)]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    err = proc.stderr.read().decode() if proc.stderr else ""
    if proc.stderr:
        proc.stderr.close()
    if proc.returncode not in (0, 1):
        raise SystemExit(f"analysis failed (exit {proc.returncode}): {err.strip()}")
    return ChildRun(
        wall_s=wall,
        cpu_s=usage.ru_utime + usage.ru_stime,
        peak_mb=usage.ru_maxrss / 1024,  # kB on Linux
        exit_code=proc.returncode,
        load_before=load_before,
    )


def stages(run_dir: Path, out_dir: Path) -> None:
    """The split inside one process (imports already done)."""
    t3, c3 = time.perf_counter(), time.process_time()
    loaded = load(run_dir)
    t4, c4 = time.perf_counter(), time.process_time()
    verdict = evaluate(loaded, load_gate(None), None)
    t5, c5 = time.perf_counter(), time.process_time()
    paths = write_reports(out_dir, verdict)
    t6, c6 = time.perf_counter(), time.process_time()
    print("  stage (in one process)    wall s   cpu s")
    print(f"  load run directory        {t4 - t3:6.2f}  {c4 - c3:6.2f}")
    print(f"  analyze + evaluate        {t5 - t4:6.2f}  {c5 - c4:6.2f}")
    print(f"  write the four reports    {t6 - t5:6.2f}  {c6 - c5:6.2f}")
    print(f"  total                     {t6 - t3:6.2f}  {c6 - c3:6.2f}   ({verdict.headline})")
    print(f"  report.html {paths.html.stat().st_size / 1e3:.0f} KB")


def main() -> None:
    ap = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    ap.add_argument("--keep", type=Path, help="write the run directory here and keep it")
    ap.add_argument("--repeat", type=int, default=3, help="child processes to time (default 3)")
    ap.add_argument(
        "--generate-only", action="store_true", help="write the run directory (--keep) and stop"
    )
    args = ap.parse_args()
    tmp = tempfile.TemporaryDirectory()
    run_dir = args.keep or Path(tmp.name) / "one-hour"
    out_dir = Path(tmp.name) / "reports"

    if args.generate_only:
        t0 = time.perf_counter()
        run = generate(one_hour())
        t1 = time.perf_counter()
        write_run_dir(run, run_dir)
        t2 = time.perf_counter()
        print(f"  generate (not analysis)   {t1 - t0:6.2f} s")
        print(f"  write run dir (not anal.) {t2 - t1:6.2f} s")
        return
    if (run_dir / "windows.jsonl").exists():
        print(f"one-hour run directory: {run_dir} (reused)")
    else:
        # In a child of its own: the generator holds about 4 GB, and a forked child's
        # ru_maxrss counts the parent's pages it carried until exec (the analysis would be
        # charged for the generator's memory).
        gen = [
            sys.executable,
            "-m",
            "bench.analysis_time",
            "--generate-only",
            "--keep",
            str(run_dir),
        ]
        subprocess.run(gen, check=True)
    size = sum(p.stat().st_size for p in run_dir.iterdir()) / 1e6
    print(f"one-hour run directory: {size:.1f} MB on disk")

    runs = []
    print(
        "  python -m chaosbench.analysis   wall s   cpu s   peak RSS MB   load avg (1 min) before"
    )
    for i in range(max(args.repeat, 1)):
        r = run_child(run_dir, out_dir)
        runs.append(r)
        print(
            f"  run {i + 1:<28d} {r.wall_s:6.2f}  {r.cpu_s:6.2f}   {r.peak_mb:8.0f}"
            f"      {r.load_before:.2f}"
        )
    best = min(r.wall_s for r in runs)
    peak = max(r.peak_mb for r in runs)
    cpu = min(r.cpu_s for r in runs)
    print(
        f"  best wall {best:.2f} s (budget {WALL_BUDGET_S:g} s), least cpu {cpu:.2f} s, "
        f"peak RSS {peak:.0f} MB (budget {RSS_BUDGET_MB:g} MB); load average now "
        + " ".join(f"{x:.2f}" for x in os.getloadavg())
    )
    command = f"python -m bench.analysis_time --repeat {args.repeat}"
    walls = ", ".join(f"{r.wall_s:.2f}" for r in runs)
    name = "python -m chaosbench.analysis on the one-hour run"
    emit(
        Figure(
            "analysis_time",
            f"{name}: best wall time",
            f"{best:.2f} s",
            f"< {WALL_BUDGET_S:g} s",
            best < WALL_BUDGET_S,
            command=command,
            note=f"runs {walls} s; loads before {', '.join(f'{r.load_before:.2f}' for r in runs)}",
        )
    )
    emit(Figure("analysis_time", f"{name}: least CPU time", f"{cpu:.2f} s", command=command))
    emit(
        Figure(
            "analysis_time",
            f"{name}: peak RSS",
            f"{peak:.0f} MB",
            f"< {RSS_BUDGET_MB:g} MB",
            peak < RSS_BUDGET_MB,
            command=command,
        )
    )
    stages(run_dir, out_dir)


if __name__ == "__main__":
    main()
