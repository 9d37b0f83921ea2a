"""Per phase and per scope (overall, kind, name): count, throughput, error rate, percentiles."""

from __future__ import annotations

from dataclasses import dataclass

from chaosbench.analysis.model import RunData
from chaosbench.analysis.stats.table import Scope, SecondBlock, WindowTable


@dataclass(slots=True)
class PhaseStats:
    phase: str  # phase label
    scope: str  # overall, a kind, or "KIND name"
    count: int
    failures: int
    deadline_misses: int
    seconds: float  # duration the throughput is computed over
    p50_ms: float
    p95_ms: float
    p99_ms: float
    max_ms: float

    @property
    def throughput(self) -> float:
        return self.count / self.seconds if self.seconds > 0 else 0.0

    @property
    def error_rate(self) -> float:
        return self.failures / self.count if self.count else 0.0

    @property
    def miss_rate(self) -> float:
        return self.deadline_misses / self.count if self.count else 0.0


def block_stats(phase: str, scope: str, block: SecondBlock, seconds: float) -> PhaseStats:
    h = block.hist
    return PhaseStats(
        phase=phase,
        scope=scope,
        count=int(block.count.sum()),
        failures=int(block.failures.sum()),
        deadline_misses=int(block.misses.sum()),
        seconds=seconds,
        p50_ms=h.merged_percentile(50) / 1000,
        p95_ms=h.merged_percentile(95) / 1000,
        p99_ms=h.merged_percentile(99) / 1000,
        max_ms=h.max_value() / 1000,
    )


def phase_order(labels: list[str]) -> list[str]:
    """Phase labels in run order: warmup, baseline, burst1, recovery1, burst2, ..., cooldown."""
    rank = {"idle": 0, "warmup": 1, "baseline": 2, "cooldown": 9_999}

    def key(label: str) -> tuple[int, str]:
        for prefix, base in (("burst", 0), ("recovery", 1)):
            if label.startswith(prefix) and label[len(prefix) :].isdigit():
                return (10 + 2 * int(label[len(prefix) :]) + base, label)
        return (rank.get(label, 10_000), label)

    return sorted(labels, key=key)


def summarize(run: RunData, table: WindowTable) -> list[PhaseStats]:
    """Stats for every phase label x (overall, each kind, each name), in run order."""
    spans = {p.label: max(p.end - p.start, 0.0) for p in run.phases}
    out: list[PhaseStats] = []
    scopes = [Scope()] + [Scope(k) for k in table.kinds()]
    scopes += [Scope(k, n) for k, n in table.names()]
    for label in phase_order(table.phases()):
        for scope in scopes:
            block = table.select(scope, [label])
            if block.n == 0:
                continue
            dur = spans.get(label) or float(block.seconds[-1] - block.seconds[0] + 1)
            out.append(block_stats(label, scope.label, block, dur))
    return out
