"""``python -m bench [NAME ...]``: run every benchmark module in bench/ (or the named ones).

``python -m bench --list`` lists them. Each module runs as ``python -m bench.<name>`` in its own
process, so one benchmark's monkey-patching or servers never leak into the next.
"""

from __future__ import annotations

import pkgutil
import subprocess
import sys
from pathlib import Path

#: Modules of bench/ that other benchmarks and tests use, not benchmarks themselves.
SUPPORT = frozenset({"noise", "outside", "locustfiles"})


def modules() -> list[str]:
    here = Path(__file__).resolve().parent
    return sorted(
        m.name
        for m in pkgutil.iter_modules([str(here)])
        if not m.name.startswith("_") and m.name not in SUPPORT
    )


def main(argv: list[str]) -> int:
    available = modules()
    if argv[:1] == ["--list"]:
        print("\n".join(available))
        return 0
    chosen = argv or available
    unknown = [name for name in chosen if name not in available]
    if unknown:
        print(
            f"bench: no benchmark named {', '.join(unknown)} (have: {', '.join(available)})",
            file=sys.stderr,
        )
        return 2
    failed = []
    for name in chosen:
        print(f"== bench.{name}", flush=True)
        if subprocess.call([sys.executable, "-m", f"bench.{name}"]) != 0:
            failed.append(name)
    if failed:
        print(f"bench: failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
