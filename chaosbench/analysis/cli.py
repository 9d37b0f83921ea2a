"""``python -m chaosbench.analysis RUN_DIR [--baseline RUN_DIR] [--gate GATE.yaml] [--out DIR]
[--threshold 'METRIC{TAG:VALUE}: EXPR' ...]``.

Judges a run directory, writes the reports (into RUN_DIR, or --out), prints the verdict and
exits with its code: 0 pass, 1 gate failed, 2 could not run or measure. Bad input is one line
``chaosbench: ...`` and exit 2.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from chaosbench.ground.cliargs import OneLineParser
from chaosbench.ground.errors import EXIT_CANNOT_MEASURE


def parser(prog: str = "python -m chaosbench.analysis") -> argparse.ArgumentParser:
    p = OneLineParser(
        prog=prog,
        description="Judge a chaosbench run directory against a gate and write its reports.",
        epilog="exit codes: 0 pass, 1 gate failed (or inconclusive when the gate says so), "
        "2 could not run or measure",
    )
    p.add_argument("run_dir", metavar="RUN_DIR", type=Path, help="the run directory to judge")
    p.add_argument("--baseline", metavar="RUN_DIR", type=Path, help="a stored baseline run")
    p.add_argument("--gate", metavar="GATE.yaml", help="gate config (default: built-in defaults)")
    p.add_argument("--out", metavar="DIR", type=Path, help="where to write the reports")
    p.add_argument(
        "--threshold",
        action="append",
        metavar="'METRIC{TAG:VALUE}: EXPR'",
        help="a threshold in k6's vocabulary, e.g. 'http_req_duration{kind:HTTP}: p(95)<500' "
        "(repeatable; added to the gate's, replacing one on the same metric, tags and "
        "aggregation)",
    )
    return p


def _check_dir(path: Path, what: str) -> str | None:
    if not path.exists():
        return f"{what} {path}: no such directory"
    if not path.is_dir():
        return f"{what} {path}: not a directory"
    return None


def main(argv: list[str] | None = None, prog: str = "python -m chaosbench.analysis") -> int:
    from chaosbench.analysis.thresholds import from_options
    from chaosbench.analysis.verdict import conclude
    from chaosbench.ground.errors import OptionError

    args = parser(prog).parse_args(argv)
    try:
        from_options(args.threshold)  # refused before anything is read
    except OptionError as exc:
        print(f"chaosbench: {exc}", file=sys.stderr)
        return EXIT_CANNOT_MEASURE
    for path, what in ((args.run_dir, "run directory"), (args.baseline, "baseline run")):
        if path is not None and (msg := _check_dir(path, what)):
            print(f"chaosbench: {msg}", file=sys.stderr)
            return EXIT_CANNOT_MEASURE
    return conclude(
        args.run_dir, args.gate, args.baseline, args.out, extra_thresholds=args.threshold or ()
    )
