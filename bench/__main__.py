"""``python -m bench [NAME ...]``: run every benchmark module in bench/ (or the named ones), then
write their figures as the table of docs/performance.md.

``python -m bench --list`` lists them. Each module runs as ``python -m bench.<name>`` in its own
process, so one benchmark's monkey-patching or servers never leak into the next. Every module
reports its figures through ``bench._figures.emit`` into the file ``BENCH_FIGURES`` names; at the
end the section between ``<!-- bench:table:start -->`` and ``<!-- bench:table:end -->`` of
docs/performance.md is rewritten (date, machine, load average, one row per figure). Rows of
benches not run this time are kept; the prose around the markers is never touched.
``--no-table`` runs without writing; ``--doc PATH`` writes another file.
"""

from __future__ import annotations

import os
import pkgutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench._figures import ENV, load_average, machine, read, update_doc

#: Modules of bench/ that other benchmarks and tests use, not benchmarks themselves.
SUPPORT = frozenset({"noise", "outside", "locustfiles"})
HERE = Path(__file__).resolve().parent
DOC = HERE.parent / "docs" / "performance.md"


def modules() -> list[str]:
    return sorted(
        m.name
        for m in pkgutil.iter_modules([str(HERE)])
        if not m.name.startswith("_") and m.name not in SUPPORT
    )


def write_table(doc: Path, figures_file: Path) -> int:
    """Rewrite the table of ``doc`` from the figures in ``figures_file``; the number of rows."""
    figures = read(figures_file)
    if not figures:
        return 0
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    text = doc.read_text(encoding="utf-8") if doc.exists() else "# Performance\n"
    doc.write_text(update_doc(text, figures, machine(), when, load_average()), encoding="utf-8")
    return len(figures)


def main(argv: list[str]) -> int:
    available = modules()
    if argv[:1] == ["--list"]:
        print("\n".join(available))
        return 0
    table, doc = True, DOC
    names: list[str] = []
    args = iter(argv)
    for arg in args:
        if arg == "--no-table":
            table = False
        elif arg == "--doc":
            value = next(args, None)
            if value is None:
                print("bench: --doc needs a file name", file=sys.stderr)
                return 2
            doc = Path(value)
        elif arg.startswith("-"):
            print(
                f"bench: unknown option {arg} (have: --list, --no-table, --doc PATH)",
                file=sys.stderr,
            )
            return 2
        else:
            names.append(arg)
    chosen = names or available
    unknown = [name for name in chosen if name not in available]
    if unknown:
        print(
            f"bench: no benchmark named {', '.join(unknown)} (have: {', '.join(available)})",
            file=sys.stderr,
        )
        return 2
    failed = []
    with tempfile.TemporaryDirectory(prefix="cb-bench-") as tmp:
        figures = Path(tmp) / "figures.jsonl"
        env = {**os.environ, ENV: str(figures)}
        for name in chosen:
            print(f"== bench.{name} (load average {load_average()})", flush=True)
            if subprocess.call([sys.executable, "-m", f"bench.{name}"], env=env) != 0:
                failed.append(name)
        if table:
            rows = write_table(doc, figures)
            print(f"bench: {rows} figures written to {doc}", flush=True)
    if failed:
        print(f"bench: failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
