"""Analysis time for a synthetic one-hour run directory.

Generates a one-hour run (10 min baseline, 8 bursts of 60 s, 6 keys, ~2 M requests), writes it
as a real run directory with the recorder's writer, then times each stage of
``python -m chaosbench.analysis``: load, analyze + evaluate, write the reports. Prints the figures.

    .venv/bin/python -m bench.analysis_time [--keep DIR]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from chaosbench.analysis.gate import load_gate
from chaosbench.analysis.report import write_reports
from chaosbench.analysis.rundir import load
from chaosbench.analysis.synthetic import generate, one_hour, write_run_dir
from chaosbench.analysis.verdict import evaluate


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--keep", type=Path, help="write the run directory here and keep it")
    args = ap.parse_args()
    tmp = tempfile.TemporaryDirectory()
    run_dir = args.keep or Path(tmp.name) / "one-hour"

    t0 = time.perf_counter()
    run = generate(one_hour())
    t1 = time.perf_counter()
    write_run_dir(run, run_dir)
    t2 = time.perf_counter()
    samples = sum(w.count for w in run.windows)
    size = sum(p.stat().st_size for p in run_dir.iterdir()) / 1e6

    t3, c3 = time.perf_counter(), time.process_time()
    loaded = load(run_dir)
    t4, c4 = time.perf_counter(), time.process_time()
    verdict = evaluate(loaded, load_gate(None), None)
    t5, c5 = time.perf_counter(), time.process_time()
    paths = write_reports(run_dir, verdict)
    t6, c6 = time.perf_counter(), time.process_time()

    span = (loaded.ended or 0) - loaded.started
    print(
        f"one-hour run: {span:.0f} s, {len(run.windows)} windows, {samples} requests, "
        f"{size:.1f} MB on disk"
    )
    print(f"  generate (not analysis)   {t1 - t0:6.2f} s")
    print(f"  write run dir (not anal.) {t2 - t1:6.2f} s")
    print("  stage                      wall s   cpu s (the machine is shared: cpu is steadier)")
    print(f"  load run directory        {t4 - t3:6.2f}  {c4 - c3:6.2f}")
    print(f"  analyze + evaluate        {t5 - t4:6.2f}  {c5 - c4:6.2f}")
    print(f"  write the four reports    {t6 - t5:6.2f}  {c6 - c5:6.2f}")
    print(f"  analysis total            {t6 - t3:6.2f}  {c6 - c3:6.2f}   ({verdict.headline})")
    print(f"  report.html {paths.html.stat().st_size / 1e3:.0f} KB")


if __name__ == "__main__":
    main()
