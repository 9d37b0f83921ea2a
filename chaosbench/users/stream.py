"""Sequence tracking of a feed: gaps, duplicates, reorders, and whether a resume was complete.

Counting rules (per stream, across reconnects):
- a sequence number above ``last + 1`` opens a gap of the numbers skipped (each is *missing*);
- a missing number that arrives later is a reorder, and no longer a gap (``gaps`` goes down);
- a number at or below ``last`` that is not missing is a duplicate;
- a server ``gap`` message ``{from, to}`` counts the numbers it says are lost as gaps.

The missing numbers are kept as ranges (at most ``max_missing`` numbers, the oldest forgotten
first), so a gap costs the same whatever its size: a feed that skips 100 000 numbers must not
stall the user's event loop while they are written down one by one.
"""

from __future__ import annotations

from bisect import bisect_right
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


class MissingRanges:
    """Sets of missing sequence numbers as ascending, disjoint ranges ``[lo, hi]``; new ranges
    always lie above every range kept. At most ``limit`` numbers: the lowest go first."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.count = 0
        self._lo: list[int] = []
        self._hi: list[int] = []

    def add_above(self, lo: int, hi: int) -> None:
        """Add ``lo..hi`` (above every number kept), then forget the lowest beyond the limit."""
        if hi < lo:
            return
        self._lo.append(lo)
        self._hi.append(hi)
        self.count += hi - lo + 1
        while self.count > self.limit:
            size = self._hi[0] - self._lo[0] + 1
            excess = self.count - self.limit
            if size <= excess:
                del self._lo[0], self._hi[0]
                self.count -= size
            else:
                self._lo[0] += excess
                self.count -= excess

    def take(self, n: int) -> bool:
        """Remove ``n`` if it is missing; whether it was."""
        i = bisect_right(self._lo, n) - 1
        if i < 0 or n > self._hi[i]:
            return False
        lo, hi = self._lo[i], self._hi[i]
        if lo == hi:
            del self._lo[i], self._hi[i]
        elif n == lo:
            self._lo[i] = n + 1
        elif n == hi:
            self._hi[i] = n - 1
        else:  # split
            self._hi[i] = n - 1
            self._lo.insert(i + 1, n + 1)
            self._hi.insert(i + 1, hi)
        self.count -= 1
        return True

    def __len__(self) -> int:
        return self.count


class SequenceTracker:
    """Counts gaps, duplicates and reorders of a stream of sequence numbers."""

    def __init__(self, max_missing: int = 100_000) -> None:
        self.last: int | None = None
        self.messages = 0
        self.gaps = 0
        self.duplicates = 0
        self.reorders = 0
        self._missing = MissingRanges(max_missing)

    def observe(self, seq: int) -> Observation:
        self.messages += 1
        last = self.last
        if last is None:
            self.last = seq
            return Observation(Seen.FIRST)
        if seq == last + 1:
            self.last = seq
            return Observation(Seen.IN_ORDER)
        if seq > last:
            skipped = seq - last - 1
            self._missing.add_above(last + 1, seq - 1)
            self.last = seq
            self.gaps += skipped
            return Observation(Seen.GAP, gaps=skipped)
        if self._missing.take(seq):
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
