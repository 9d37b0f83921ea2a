"""The figures a benchmark prints, and the table ``python -m bench`` writes to docs/performance.md.

Every benchmark reports each figure through :func:`emit`: it prints one line and, when
``python -m bench`` runs it (``BENCH_FIGURES`` names a JSON-lines file), appends the figure
there. ``python -m bench`` then writes the Markdown table with the date, the machine and the
load average (see ``bench/__main__.py``).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

ENV = "BENCH_FIGURES"


@dataclass(frozen=True)
class Figure:
    """One measured figure: ``value`` as printed (units included), ``target`` the goal it is
    held against ("" when none), ``met`` True/False against the target (None: no target)."""

    bench: str  # the module, e.g. "proxy_overhead"
    name: str  # what was measured, e.g. "Redis user / bare redis-py, 16 users"
    value: str
    target: str = ""
    met: bool | None = None
    load: str = ""  # load average while it was measured ("1.2 1.0 0.9")
    command: str = ""  # the exact command (or the side-by-side pair) that measured it
    note: str = ""


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def emit(fig: Figure) -> Figure:
    """Print the figure on one line and record it for the table (when ``BENCH_FIGURES`` is set)."""
    load = fig.load or load_average()
    fig = Figure(**{**asdict(fig), "load": load})
    mark = {True: "met", False: "MISSED", None: ""}[fig.met]
    target = f" (target {fig.target}: {mark})" if fig.target else ""
    print(f"figure: {fig.name}: {fig.value}{target}; load {load}", flush=True)
    path = os.environ.get(ENV)
    if path:
        with Path(path).open("a", encoding="utf-8") as f:
            f.write(json.dumps(asdict(fig)) + "\n")
    return fig


def read(path: Path) -> list[Figure]:
    if not path.exists():
        return []
    return [Figure(**json.loads(line)) for line in path.read_text().splitlines() if line.strip()]
