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
    """A value in its unit: ratio -> +12.3 %, ms, s, rate -> 1.20 %, req/s, count."""
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "—"
    if math.isinf(v):
        return "never" if unit == "s" else "∞"
    if unit == "ratio":
        return f"{grouped(v * 100, 1, sign=True)} %"
    if unit == "rate":
        return f"{v * 100:.2f} %"
    if unit == "ms":
        return f"{v:.1f} ms"
    if unit == "s":
        return f"{v:.1f} s"
    if unit == "req/s":
        return f"{grouped(v, 1)} req/s"
    return f"{v:.0f}"


def grouped(v: float, decimals: int, sign: bool = False) -> str:
    """``v`` with a space between thousands (``23 707``); no decimals from 1 000 on."""
    if abs(v) >= 1000:
        decimals = 0
    text = f"{v:{'+' if sign else ''},.{decimals}f}"
    return text.replace(",", " ")


def abs_ms(v: float, sign: bool = False) -> str:
    """A latency in ms, as precise as it is readable: 0.42, 1.3, 302, 12 040."""
    if math.isnan(v):
        return "—"
    a = abs(v)
    return grouped(v, 0 if a >= 100 else 1 if a >= 1 else 2, sign)


def change(value: float | None, reference: float | None, current: float | None) -> str:
    """A relative change with its absolute values beside it: "+301 ms, 1.3 → 302 ms, +23 707 %"
    (just the ratio when the absolute values are not known)."""
    rel = num(value, "ratio")
    if reference is None or current is None or math.isnan(reference) or math.isnan(current):
        return rel
    delta = abs_ms(current - reference, sign=True)
    return f"{delta} ms, {abs_ms(reference)} → {abs_ms(current)} ms, {rel}"


def value(r: CriterionResult) -> str:
    """The criterion's (worst cell's) value; a relative one with its absolute values."""
    if r.unit == "ratio" and r.value is not None:
        return change(r.value, r.reference, r.current)
    return num(r.value, r.unit)


def limit(r: CriterionResult) -> str:
    return f"{r.comparison} {num(r.limit, r.unit)}"


def interval(r: CriterionResult) -> str:
    if r.low is None or r.high is None or r.confidence is None:
        return "—"
    return f"{num(r.low, r.unit)} … {num(r.high, r.unit)} ({r.confidence * 100:.3g} %)"


def ms(v: float) -> str:
    return "—" if math.isnan(v) else f"{v:.1f}"


def pct(v: float) -> str:
    return f"{v * 100:.2f} %"
