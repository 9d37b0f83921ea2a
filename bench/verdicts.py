"""Do verdicts hold on a noisy machine? ``python -m bench.verdicts [--runs N] [--seed S]``.

Against outside servers (bench.outside: a plain nginx, a pgbench database, plain Redis) and under
noise (bench.noise: CPU hogs, a redis-benchmark and a pgbench neighbour, switched on and off at
random), N A/A runs (``faults: []``) and N known-truth runs (a latency toxic of ``--truth-ms``,
default +10 ms, on the Redis route: a 1-3 ms service), interleaved A/A, truth, A/A, truth, ...
Each run is a real ``locust`` process with the default gate, bounded in time (the profile's
length + 90 s). Prints per run the exit code and the verdicts of p95_regression and
recovery_time (and every burst's recovery), then:

- false-fail rate: A/A runs that exit 1;
- miss rate: truth runs that do not exit 1;
- recovery error against truth: the fault's effect ends with the burst, so truth is 0 s .. 1 s;
  the error of a burst is how far its recovery lies outside that (a burst "not recovered" counts
  as a miss of its own);

plus the load average before and after each run and the exact commands. ``--keep DIR`` keeps
each run's directory (windows, marks, journal, meta) and the noise it ran under (noise.json);
``--rejudge DIR`` runs nothing and judges the directories an earlier ``--keep`` kept again, with
today's analysis. The three figures also go through ``bench/_figures.py`` (``emit``). The bench
uses PostgreSQL databases ``verdicts_*``, Redis database 7 and keys ``verdicts:*`` of its own.
Not part of the test run.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ET
from dataclasses import asdict, dataclass
from pathlib import Path

import psycopg

from bench._figures import Figure, emit
from bench.noise import Noise, NoiseSettings
from bench.outside import REDIS_URL, Endpoints, OutsideServers, Phases, RunResult, run

TRUTH_RECOVERY_S = (0.0, 1.0)


@dataclass(frozen=True)
class Names:
    """The bench's own PostgreSQL database prefix, Redis database and key prefix, so that it
    shares nothing with a test or another bench running on the same servers."""

    db_prefix: str = "verdicts_"
    redis_db: int = 7
    key_prefix: str = "verdicts:"

    @property
    def redis_url(self) -> str:
        return f"{REDIS_URL.rsplit('/', 1)[0]}/{self.redis_db}"


NAMES = Names()
KEEP_FILES = ("meta.json", "windows.jsonl", "marks.jsonl", "journal.jsonl", "integrity.json",
              "injections.json")  # fmt: skip


@dataclass(frozen=True)
class Outcome:
    label: str  # "A/A" or "+10 ms"
    run_id: str
    code: int
    p95: str  # the criterion's verdict line (pass/fail/inconclusive ...)
    recovery: str
    bursts: list[float | None]  # recovery per burst, s (None: not recovered / not measured)
    load_before: tuple[float, float, float]
    load_after: tuple[float, float, float]
    wall_s: float
    command: str


def criterion(run_dir: Path, name: str) -> str:
    """One criterion's verdict and its line, from junit.xml."""
    try:
        tree = ET.parse(run_dir / "junit.xml")
    except (OSError, ET.ParseError) as exc:
        return f"? (no junit.xml: {exc})"
    for case in tree.iter("testcase"):
        if case.get("name") != name:
            continue
        for tag in ("failure", "error"):
            node = case.find(tag)
            if node is not None:
                return f"{node.get('message', tag)} [{(node.text or '').strip()}]"
        node = case.find("skipped")
        if node is not None:
            return f"n/a: {node.get('message', '')}"
        out = case.find("system-out")
        return (out.text or "").strip() if out is not None else "pass"
    return "? (not in junit.xml)"


SECONDS = re.compile(r"(-?\d+(?:\.\d+)?) s\b")


def burst_recoveries(run_dir: Path) -> list[float | None]:
    """Each burst's recovery time, from the report's recovery scorecard (None: not recovered
    or not measurable)."""
    try:
        text = (run_dir / "report.md").read_text()
    except OSError:
        return []
    out: list[float | None] = []
    section = text.split("### Recovery scorecard", 1)
    if len(section) < 2:
        return out
    header: list[str] | None = None
    for line in section[1].splitlines():
        if not line.startswith("|"):
            if header is not None and out:
                break
            continue
        cells = [c.strip() for c in line.strip("|").split("|")]
        if header is None:
            header = cells
            continue
        if set(cells[0]) <= {"-", ":"} or "recovery" not in header:
            continue
        m = SECONDS.match(cells[header.index("recovery")])
        out.append(float(m.group(1)) if m else None)
    return out


def recovery_error(seconds: float | None) -> float:
    """Distance from truth (0 .. 1 s); infinite for a burst that is not recovered."""
    if seconds is None:
        return math.inf
    low, high = TRUTH_RECOVERY_S
    return max(0.0, low - seconds, seconds - high)


def keep(result: RunResult, noise: Noise, dest: Path) -> None:
    target = dest / result.run_dir.name
    target.mkdir(parents=True, exist_ok=True)
    for name in KEEP_FILES:
        if (result.run_dir / name).exists():
            shutil.copy2(result.run_dir / name, target / name)
    (target / "noise.json").write_text(
        json.dumps(
            {
                "describe": noise.describe(),
                "settings": asdict(noise.settings),
                "started": noise.started,
                "planned": [asdict(p) for p in noise.planned],
                "applied": [asdict(a) for a in noise.applied()],
            },
            indent=1,
        )
        + "\n"
    )


def one_run(
    ends: Endpoints,
    work: Path,
    run_id: str,
    truth_ms: int | None,
    seed: int,
    phases: Phases,
    noise_settings: NoiseSettings | None,
    keep_dir: Path | None,
) -> Outcome:
    before = os.getloadavg()
    label = "A/A" if truth_ms is None else f"+{truth_ms} ms"
    if noise_settings is None:
        result = run(ends, work, run_id, truth_ms, seed, phases)
    else:
        with Noise(seed, noise_settings) as noise:
            result = run(ends, work, run_id, truth_ms, seed, phases)
        if keep_dir is not None:
            keep(result, noise, keep_dir)
    if "Traceback" in result.output:
        print(result.output[-3000:], file=sys.stderr)
    return Outcome(
        label,
        run_id,
        result.code,
        criterion(result.run_dir, "p95_regression"),
        criterion(result.run_dir, "recovery_time"),
        burst_recoveries(result.run_dir),
        before,
        os.getloadavg(),
        result.wall_s,
        result.command,
    )


def fmt_load(load: tuple[float, float, float]) -> str:
    return " ".join(f"{x:.2f}" for x in load)


def print_outcome(n: int, seed: int, o: Outcome) -> None:
    bursts = ", ".join("not recovered" if b is None else f"{b:.1f} s" for b in o.bursts)
    print(
        f"[{n}] {o.label:7} seed {seed} exit {o.code} ({o.wall_s:.0f} s; "
        f"load {fmt_load(o.load_before)} -> {fmt_load(o.load_after)})\n"
        f"    p95_regression: {o.p95}\n"
        f"    recovery_time:  {o.recovery}\n"
        f"    recovery per burst: {bursts or '?'}\n"
        f"    command: {o.command}",
        flush=True,
    )


def main(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m bench.verdicts", description=__doc__.split("\n")[0]
    )
    ap.add_argument("--runs", type=int, default=3, help="A/A runs and truth runs each (default 3)")
    ap.add_argument("--seed", type=int, default=1, help="first seed (noise and profile)")
    ap.add_argument("--truth-ms", type=int, default=10, help="latency of the known fault (ms)")
    ap.add_argument("--no-noise", action="store_true", help="run without the noise source")
    ap.add_argument("--cpu-hogs", type=int, default=2, help="CPU hog processes of the noise")
    ap.add_argument("--keep", type=Path, default=None, help="copy each run directory here")
    ap.add_argument(
        "--rejudge",
        type=Path,
        default=None,
        help="run nothing: judge the run directories an earlier --keep kept, with today's analysis",
    )
    args = ap.parse_args(argv)
    if args.rejudge is not None:
        judged = rejudge(args.rejudge, args.truth_ms)
        for n, o in enumerate(judged, start=1):
            print_outcome(n, 0, o)
        summarize(judged, args.truth_ms, f"rejudged {len(judged)} run directories", " ".join(argv))
        return 0
    if args.runs < 1 or args.runs > 50:
        print(f"bench.verdicts: --runs {args.runs}: must be 1 .. 50", file=sys.stderr)
        return 2
    if args.truth_ms < 1:
        print(f"bench.verdicts: --truth-ms {args.truth_ms}: must be 1 or more", file=sys.stderr)
        return 2
    phases = Phases()
    noise_settings = (
        None
        if args.no_noise
        else NoiseSettings(
            max_duration_s=phases.total_s + 60,
            cpu_hogs=args.cpu_hogs,
            redis_db=NAMES.redis_db,
            pg_db_prefix=NAMES.db_prefix,
        )
    )
    work = Path(tempfile.mkdtemp(prefix="cb-verdicts-"))
    outcomes: list[Outcome] = []
    t0 = time.time()
    noise_desc = "none" if noise_settings is None else Noise(args.seed, noise_settings).describe()
    print(
        f"bench.verdicts: {args.runs} A/A + {args.runs} +{args.truth_ms} ms runs of "
        f"{phases.total_s} s, interleaved; phases {asdict(phases)}; "
        f"noise: {noise_desc}"
        f"; load average {fmt_load(os.getloadavg())}; {os.cpu_count()} cores",
        flush=True,
    )
    try:
        servers = OutsideServers(
            db_prefix=NAMES.db_prefix, key_prefix=NAMES.key_prefix, redis_url=NAMES.redis_url
        )
        try:
            ends = servers.__enter__()
        except (RuntimeError, OSError, subprocess.SubprocessError, psycopg.Error) as exc:
            print(f"bench.verdicts: cannot start the outside servers: {exc}", file=sys.stderr)
            return 2
        try:
            print(
                f"outside servers: nginx {ends.http}, pgbench {ends.pg_dsn}, redis {ends.redis_url}"
            )
            for i in range(args.runs):
                for truth in (None, args.truth_ms):
                    seed = args.seed + i
                    kind = "aa" if truth is None else f"t{truth}"
                    run_id = f"v_{kind}_{seed}_{os.getpid()}"
                    o = one_run(ends, work, run_id, truth, seed, phases, noise_settings, args.keep)
                    outcomes.append(o)
                    print_outcome(len(outcomes), seed, o)
        finally:
            servers.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)
    summarize(outcomes, args.truth_ms, f"wall {time.time() - t0:.0f} s", " ".join(argv))
    return 0


def status_of(line: str) -> str:
    """A criterion line's status word ("pass", "fail", "inconclusive", "n/a", "error", "?")."""
    word = line.split(":", 1)[0].strip().split(" ", 1)[0]
    return word if word in ("pass", "fail", "inconclusive", "n/a", "error") else "?"


def split(runs: list[Outcome]) -> str:
    """How p95_regression judged the runs: "fail 17, inconclusive 3, pass 0"."""
    counts = {w: 0 for w in ("fail", "inconclusive", "pass")}
    for o in runs:
        w = status_of(o.p95)
        counts[w] = counts.get(w, 0) + 1
    return ", ".join(f"{w} {n}" for w, n in counts.items())


def summarize(outcomes: list[Outcome], truth_ms: int, wall: str, command: str) -> None:
    """Print the rates and the recovery error, and emit them as figures (bench/_figures.py).

    A truth run that does not exit 1 is either *passed* by the gate (a real miss: the
    regression was waved through) or judged *inconclusive* (exit 0 by default; exit 1 with
    ``inconclusive_fails``): both are printed, apart."""
    aa = [o for o in outcomes if o.label == "A/A"]
    truth_runs = [o for o in outcomes if o.label != "A/A"]
    false_fail = sum(1 for o in aa if o.code == 1)
    missed = sum(1 for o in truth_runs if o.code != 1)
    passed = sum(1 for o in truth_runs if status_of(o.p95) == "pass")
    errors = [recovery_error(b) for o in truth_runs for b in o.bursts]
    finite = [e for e in errors if math.isfinite(e)]
    within = sum(1 for e in errors if e == 0)
    aa_errors = [recovery_error(b) for o in aa for b in o.bursts]  # no fault: truth 0 .. 1 s too
    aa_within = sum(1 for e in aa_errors if e == 0)
    max_finite = max(finite, default=0.0)
    print(
        f"\nfalse-fail rate: {false_fail}/{len(aa)} A/A runs exit 1 "
        f"(other exits: {sorted(o.code for o in aa if o.code != 1)})\n"
        f"miss rate: {missed}/{len(truth_runs)} +{truth_ms} ms runs do not exit 1 "
        f"(their exits: {sorted(o.code for o in truth_runs)})\n"
        f"p95_regression on the A/A runs: {split(aa)}\n"
        f"p95_regression on the +{truth_ms} ms runs: {split(truth_runs)} "
        f"(a pass waves the regression through)\n"
        f"recovery error against truth (0 .. 1 s): {len(errors)} bursts, "
        f"{within} within, "
        f"{len(errors) - len(finite)} not recovered, "
        f"max finite error {max_finite:.1f} s\n"
        f"A/A bursts' recovery against truth (0 .. 1 s): {len(aa_errors)} bursts, "
        f"{aa_within} within, "
        f"{sum(1 for e in aa_errors if math.isinf(e))} not recovered, max finite error "
        f"{max((e for e in aa_errors if math.isfinite(e)), default=0.0):.1f} s\n"
        f"{wall}; load average now {fmt_load(os.getloadavg())}",
        flush=True,
    )
    cmd = f"python -m bench.verdicts {command}".strip()
    emit(
        Figure(
            "verdicts",
            "A/A runs under noise that fail the default gate (exit 1)",
            f"{false_fail} of {len(aa)}",
            "0",
            false_fail == 0 and bool(aa),
            command=cmd,
        )
    )
    emit(
        Figure(
            "verdicts",
            f"+{truth_ms} ms runs under noise that do not fail (exit != 1)",
            f"{missed} of {len(truth_runs)}",
            "0",
            missed == 0 and bool(truth_runs),
            command=cmd,
        )
    )
    emit(
        Figure(
            "verdicts",
            f"+{truth_ms} ms runs under noise whose p95_regression passes",
            f"{passed} of {len(truth_runs)} ({split(truth_runs)})",
            "0",
            passed == 0 and bool(truth_runs),
            command=cmd,
        )
    )
    emit(
        Figure(
            "verdicts",
            f"+{truth_ms} ms bursts whose recovery is within 1 s of truth (0 .. 1 s)",
            f"{within} of {len(errors)} (max error {max_finite:.1f} s, "
            f"{len(errors) - len(finite)} not recovered)",
            "all",
            within == len(errors) and bool(errors),
            command=cmd,
        )
    )


def rejudge(keep_dir: Path, truth_ms: int) -> list[Outcome]:
    """Judge the kept run directories of an earlier bench run again with today's analysis and
    the default gate (``v_aa_*`` A/A, ``v_t<ms>_*`` truth runs), in the order they ran."""
    from chaosbench.analysis.analyze import analyze
    from chaosbench.analysis.gate import load_gate
    from chaosbench.analysis.rundir import load
    from chaosbench.analysis.verdict import evaluate

    gate = load_gate(None)
    outcomes = []
    dirs = sorted(keep_dir.glob("v_*"), key=lambda d: (d / "meta.json").stat().st_mtime)
    for d in dirs:
        run_data = load(d)
        v = evaluate(run_data, gate, None)
        recs = analyze(run_data, gate).recoveries
        lines = {r.name: f"{r.status} at {r.where}" for r in v.results}
        nan3 = (math.nan, math.nan, math.nan)
        outcomes.append(
            Outcome(
                "A/A" if d.name.startswith("v_aa_") else f"+{truth_ms} ms",
                d.name,
                v.exit_code,
                lines.get("p95_regression", "?"),
                lines.get("recovery_time", "?"),
                [r.recovery_s if r.recovered else None for r in recs],
                nan3,
                nan3,
                0.0,
                f"python -m chaosbench.analysis {d}",
            )
        )
    return outcomes


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
