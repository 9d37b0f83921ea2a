"""The figures a benchmark prints, and the table ``python -m bench`` writes to docs/performance.md.

Every benchmark reports each figure through :func:`emit`: it prints one line and, when
``python -m bench`` runs it (``BENCH_FIGURES`` names a JSON-lines file), appends the figure
there. ``python -m bench`` then writes the Markdown table with the date, the machine and the
load average (see ``bench/__main__.py``).
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable
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


# -- the table of docs/performance.md ---------------------------------------------------------

START = "<!-- bench:table:start -->"
END = "<!-- bench:table:end -->"
COLUMNS = ("bench", "figure", "value", "target", "met", "load avg", "measured")


@dataclass(frozen=True)
class Row:
    """One row of the table: a figure as written (``measured`` is its UTC date)."""

    bench: str
    figure: str
    value: str
    target: str
    met: str
    load: str
    measured: str

    @classmethod
    def of(cls, fig: Figure, measured: str) -> Row:
        met = {True: "yes", False: "**no**", None: ""}[fig.met]
        return cls(fig.bench, fig.name, fig.value, fig.target, met, fig.load, measured)

    def line(self) -> str:
        cells = (self.bench, self.figure, self.value, self.target, self.met, self.load)
        return "| " + " | ".join(_cell(c) for c in (*cells, self.measured)) + " |"


@dataclass(frozen=True)
class Machine:
    cores: int
    cpu: str
    kernel: str

    def line(self) -> str:
        return f"{self.cores} cores, {self.cpu}, Linux {self.kernel}"


def machine() -> Machine:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = " ".join(line.split(":", 1)[1].split())
                break
    except OSError:
        pass
    return Machine(os.cpu_count() or 1, cpu, os.uname().release)


def _cell(text: str) -> str:
    return " ".join(text.replace("|", "\\|").split())


def _split_row(line: str) -> list[str]:
    cells, cur, i = [], "", 0
    body = line.strip()[1:-1] if line.strip().endswith("|") else line.strip()[1:]
    while i < len(body):
        if body[i] == "\\" and body[i + 1 : i + 2] == "|":
            cur += "\\|"
            i += 2
            continue
        if body[i] == "|":
            cells.append(cur.strip())
            cur = ""
        else:
            cur += body[i]
        i += 1
    cells.append(cur.strip())
    return [c.replace("\\|", "|") for c in cells]


def parse_rows(section: str) -> list[Row]:
    """The rows of a table section written by :func:`render_table` (header lines skipped)."""
    rows = []
    for line in section.splitlines():
        if not line.startswith("|") or line.startswith("| ---"):
            continue
        cells = _split_row(line)
        if len(cells) != len(COLUMNS) or tuple(cells) == COLUMNS:
            continue
        rows.append(Row(*cells))
    return rows


def render_table(rows: list[Row], mach: Machine, when: str, load: str) -> str:
    """The section between the markers: when, the machine, the load, one row per figure."""
    head = "| " + " | ".join(COLUMNS) + " |"
    rule = "| " + " | ".join("---" for _ in COLUMNS) + " |"
    return "\n".join(
        [
            START,
            f"Written by `make bench` (`python -m bench`) on {when}; machine: {mach.line()}; "
            f"load average at the end: {load}. Each row keeps the load average measured with "
            "it and the date it was measured (a bench not run this time keeps its rows).",
            "",
            head,
            rule,
            *(r.line() for r in rows),
            END,
        ]
    )


def merge_rows(old: list[Row], new: list[Row]) -> list[Row]:
    """The old rows with every figure measured again replaced in place, then the new figures
    the table did not have, in bench order. Per figure, not per bench: a partial run of a bench
    (``bench.load_throughput --kinds pg``) keeps its other figures, each with its own date and
    load average."""
    fresh = {(r.bench, r.figure): r for r in new}
    merged = [fresh.pop((r.bench, r.figure), r) for r in old]
    merged += [r for r in new if (r.bench, r.figure) in fresh]
    order = {b: i for i, b in enumerate(sorted({r.bench for r in merged}))}
    return sorted(merged, key=lambda r: order[r.bench])  # stable: a bench's rows keep their order


def update_doc(text: str, figures: list[Figure], mach: Machine, when: str, load: str) -> str:
    """``text`` (docs/performance.md) with its table section rewritten from ``figures``; the
    prose around the markers is kept. Without markers the section is added at the end, under
    a "Measured figures" heading."""
    date = when.split(" ")[0]
    new = [Row.of(f, date) for f in figures]
    start, end = text.find(START), text.find(END)
    if start >= 0 and end > start:
        old = parse_rows(text[start:end])
        table = render_table(merge_rows(old, new), mach, when, load)
        return text[:start] + table + text[end + len(END) :]
    table = render_table(merge_rows([], new), mach, when, load)
    return text.rstrip("\n") + "\n\n## Measured figures\n\n" + table + "\n"


#: Appended to a bench's locustfile: ``BENCH_WARMUP`` seconds after the test start, and again
#: when the test starts stopping (``test_stopping``: before any user is stopped), takes
#: (perf_counter, requests named ``BENCH_NAME``) and writes both to ``BENCH_STEADY`` (JSON): the
#: steady rate, without the spawn and the harness's start, and nothing added per request (it
#: reads Locust's statistics). A loop too busy to wake the first sample in time only shortens the
#: window; the end is exact.
STEADY_LISTENER = """
import json as _json, os as _os, time as _time
import gevent as _gevent
from locust import events as _events

_first = []


def _count(env, name):
    return sum(e.num_requests for (n, _), e in env.stats.entries.items() if n == name)


@_events.test_start.add_listener
def _steady_start(environment, **_kw):
    if not _os.environ.get("BENCH_STEADY"):
        return

    def first():
        _gevent.sleep(float(_os.environ.get("BENCH_WARMUP", "3")))
        _first.append((_time.perf_counter(), _count(environment, _os.environ["BENCH_NAME"])))

    _gevent.spawn(first)


@_events.test_stopping.add_listener
def _steady_stop(environment, **_kw):
    out = _os.environ.get("BENCH_STEADY")
    if not out or not _first:
        return
    last = (_time.perf_counter(), _count(environment, _os.environ["BENCH_NAME"]))
    with open(out, "w") as f:
        _json.dump({"first": _first[0], "last": last}, f)
"""


def steady_rate(path: Path, label: str, stderr: str = "") -> float:
    """Requests/s between the first and the latest sample :data:`STEADY_LISTENER` wrote;
    RuntimeError when it wrote none (a run shorter than its warm-up, or no request)."""
    if not path.exists():
        raise RuntimeError(f"{label}: no steady-state samples: {stderr[-800:]}")
    data = json.loads(path.read_text())
    (t0, n0), (t1, n1) = data["first"], data["last"]
    if n1 <= n0 or t1 - t0 < 1.0:
        raise RuntimeError(
            f"{label}: {n1 - n0} requests in {t1 - t0:.2f} s after the warm-up "
            f"(a longer --duration?): {stderr[-800:]}"
        )
    return float(n1 - n0) / (t1 - t0)


def locust_rate(stats_json: Path, name: str, label: str, stderr: str = "") -> float:
    """Requests/s of the request ``name`` in a Locust ``--json-file`` (over the time its
    requests were made; a user's ``connect`` requests are not load). RuntimeError when the
    file is missing or the request had no sample or a failure."""
    if not stats_json.exists():
        raise RuntimeError(f"{label}: locust wrote no stats: {stderr[-800:]}")
    entries = [e for e in json.loads(stats_json.read_text()) if e["name"] == name]
    if not entries or not entries[0]["num_requests"]:
        raise RuntimeError(f"{label}: no {name!r} requests: {stderr[-800:]}")
    e = entries[0]
    if e["num_failures"]:
        raise RuntimeError(f"{label}: {e['num_failures']} {name!r} failed: {stderr[-800:]}")
    span = (e["last_request_timestamp"] or e["start_time"]) - e["start_time"]
    return float(e["num_requests"]) / max(span, 1e-9)


def locust_steady_rate(stats_json: Path, steady: Path, name: str, label: str, stderr: str) -> float:
    """The steady rate of a Locust run (:func:`steady_rate`), after :func:`locust_rate` has
    checked that the run wrote its statistics and that no ``name`` request failed."""
    locust_rate(stats_json, name, label, stderr)
    return steady_rate(steady, label, stderr)


def run_bench(name: str, main: Callable[[], int]) -> int:
    """``main()`` of ``bench.<name>``; a measurement that could not be taken (RuntimeError) is
    one message on stderr and exit code 1, not a traceback."""
    try:
        return main()
    except RuntimeError as exc:
        print(f"bench.{name}: {exc}", file=sys.stderr)
        return 1
