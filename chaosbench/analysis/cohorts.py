"""Which request kinds a burst's faults touch, and so which kinds can serve as its control.

A fault's journal record names its target: a proxy route (``sut_pg``), a host:port, a pid. The
kinds whose traffic crosses that target are *touched*; every other kind ran at the same time
untouched and is the burst's control cohort (drift control, ``chaosbench.analysis.regression``).

The mapping, from the target's text:

- a PostgreSQL target (``pg``/``postgres`` in its name, or port 5432) touches ``PG``;
- a Redis target (``redis``, or port 6379) touches ``REDIS``;
- every fault touches ``HTTP`` and ``WS`` too: that traffic goes to the system under test, which
  talks to the backends, so a backend fault crosses it;
- a target the mapping does not know (a cpu hog, a clock skew, a process) touches every kind.

The gate's ``drift.control`` names kinds no fault touches (a plain nginx beside a Redis under
test): they are never touched, whatever the faults. A burst without faults (A/A) touches nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from chaosbench.ground.journal import JournalRecord

FRONT = ("HTTP", "WS")
_BACKENDS = (
    (re.compile(r"pg|postgres|:5432\b", re.I), "PG"),
    (re.compile(r"redis|:6379\b", re.I), "REDIS"),
)


@dataclass(frozen=True, slots=True)
class Cohorts:
    """The kinds one burst's faults touch. ``everything``: a fault the mapping does not know
    (it touches every kind but the ``declared`` control ones)."""

    touched: frozenset[str]
    everything: bool = False
    declared: frozenset[str] = frozenset()

    def touches(self, kind: str) -> bool:
        return kind not in self.declared and (self.everything or kind in self.touched)

    def control_for(self, kind: str, kinds: list[str]) -> list[str]:
        """The untouched kinds other than ``kind`` (empty: no control, bracket instead)."""
        return [k for k in kinds if k != kind and not self.touches(k)]


def kinds_of_target(target: str) -> frozenset[str] | None:
    """The kinds a fault on ``target`` touches; None when the mapping does not know it."""
    found = {kind for rx, kind in _BACKENDS if rx.search(target)}
    if found:
        return frozenset({*found, *FRONT})
    if re.search(r"api|http|:80\b|:8000\b|:18000\b", target, re.I):
        return frozenset(FRONT)
    return None


def cohorts(journal: list[JournalRecord], burst: int, control: list[str] | None) -> Cohorts:
    """The cohorts of ``burst`` from the inject records of its faults."""
    touched: set[str] = set()
    everything = False
    for r in journal:
        if r.kind != "inject" or r.burst != burst:
            continue
        kinds = kinds_of_target(r.target)
        if kinds is None:
            everything = True
        else:
            touched |= kinds
    return Cohorts(frozenset(touched), everything, frozenset(control or []))
