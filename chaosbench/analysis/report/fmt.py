"""Formatting shared by the reports: values with units, intervals, statuses."""

from __future__ import annotations

import math

from chaosbench.analysis.outcome import CriterionResult, Status

ICON = {
    Status.PASS: "✅ pass",
    Status.FAIL: "❌ fail",
    Status.INCONCLUSIVE: "❔ inconclusive",
    Status.ERROR: "⚠️ cannot measure",
    Status.SKIPPED: "n/a",
}

#: Plain words for HTML (headless browsers and CI viewers often lack emoji fonts).
WORD = {
    Status.PASS: "✓ pass",
    Status.FAIL: "✗ fail",
    Status.INCONCLUSIVE: "? inconclusive",
    Status.ERROR: "! cannot measure",
    Status.SKIPPED: "- n/a",
}


def num(v: float | None, unit: str) -> str:
    """A value in its unit: ratio -> +12.3 %, ms, s, rate -> 1.20 %, count."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "—"
    if math.isinf(v):
        return "never" if unit == "s" else "∞"
    if unit == "ratio":
        return f"{v * 100:+.1f} %"
    if unit == "rate":
        return f"{v * 100:.2f} %"
    if unit == "ms":
        return f"{v:.1f} ms"
    if unit == "s":
        return f"{v:.1f} s"
    return f"{v:.0f}"


def limit(r: CriterionResult) -> str:
    return f"≤ {num(r.limit, r.unit)}"


def interval(r: CriterionResult) -> str:
    if r.low is None or r.high is None or r.confidence is None:
        return "—"
    return f"{num(r.low, r.unit)} … {num(r.high, r.unit)} ({r.confidence * 100:.3g} %)"


def ms(v: float) -> str:
    return "—" if math.isnan(v) else f"{v:.1f}"


def pct(v: float) -> str:
    return f"{v * 100:.2f} %"
