"""Per-burst facts the reports share: faults, worst regression, recovery."""

from __future__ import annotations

import math
from dataclasses import dataclass

from analysis.analyze import Analysis
from analysis.recovery import BurstRecovery
from analysis.stats import PhaseStats


@dataclass(slots=True)
class BurstRow:
    burst: int
    faults: list[str]
    p95_ratio: float | None  # worst kind, point estimate
    p95_where: str
    stats: PhaseStats | None  # overall stats of the burst phase
    recovery: BurstRecovery | None


def burst_rows(a: Analysis) -> list[BurstRow]:
    bursts = sorted({p.burst for p in a.run.phases if p.phase == "burst" and p.burst is not None})
    rec = {r.burst: r for r in a.recoveries}
    overall = {s.phase: s for s in a.stats if s.scope == "overall"}
    rows = []
    for b in bursts:
        faults = sorted({j.name for j in a.run.journal if j.kind == "inject" and j.burst == b})
        comps = [
            c
            for c in a.regressions()
            if c.phase == f"burst{b}" and c.percentile == 95.0 and c.ratio is not None
        ]
        worst = max(comps, key=lambda c: c.ratio.value if c.ratio else -math.inf, default=None)
        rows.append(
            BurstRow(
                burst=b,
                faults=faults,
                p95_ratio=worst.ratio.value - 1 if worst and worst.ratio else None,
                p95_where=worst.scope if worst else "",
                stats=overall.get(f"burst{b}"),
                recovery=rec.get(b),
            )
        )
    return rows
