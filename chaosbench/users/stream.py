"""Sequence tracking of a feed: gaps, duplicates, reorders, and whether a resume was complete.

Counting rules (per stream, across reconnects):
- a sequence number above ``last + 1`` opens a gap of the numbers skipped (each is *missing*);
- a missing number that arrives later is a reorder, and no longer a gap (``gaps`` goes down);
- a number at or below ``last`` that is not missing is a duplicate;
- a server ``gap`` message ``{from, to}`` counts the numbers it says are lost as gaps.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from enum import Enum


class Seen(Enum):
    FIRST = "first"
    IN_ORDER = "in_order"
    GAP = "gap"
    DUPLICATE = "duplicate"
    REORDER = "reorder"


@dataclass
class Observation:
    """What one sequence number did to the counters (deltas)."""

    kind: Seen
    gaps: int = 0
    duplicates: int = 0
    reorders: int = 0


class SequenceTracker:
    """Counts gaps, duplicates and reorders of a stream of sequence numbers."""

    def __init__(self, max_missing: int = 100_000) -> None:
        self.last: int | None = None
        self.messages = 0
        self.gaps = 0
        self.duplicates = 0
        self.reorders = 0
        self._missing: OrderedDict[int, None] = OrderedDict()
        self._max_missing = max_missing

    def observe(self, seq: int) -> Observation:
        self.messages += 1
        if self.last is None:
            self.last = seq
            return Observation(Seen.FIRST)
        if seq == self.last + 1:
            self.last = seq
            return Observation(Seen.IN_ORDER)
        if seq > self.last:
            skipped = seq - self.last - 1
            for n in range(max(self.last + 1, seq - self._max_missing), seq):
                self._missing[n] = None
            while len(self._missing) > self._max_missing:
                self._missing.popitem(last=False)
            self.last = seq
            self.gaps += skipped
            return Observation(Seen.GAP, gaps=skipped)
        if seq in self._missing:
            del self._missing[seq]
            self.gaps -= 1
            self.reorders += 1
            return Observation(Seen.REORDER, gaps=-1, reorders=1)
        self.duplicates += 1
        return Observation(Seen.DUPLICATE, duplicates=1)

    def server_gap(self, first: int, last: int) -> int:
        """The server says ``first..last`` cannot be replayed: count them lost, move on."""
        lost = 0
        if self.last is None or last > self.last:
            start = first if self.last is None else max(first, self.last + 1)
            lost = max(0, last - start + 1)
            self.last = last
        self.gaps += lost
        return lost
