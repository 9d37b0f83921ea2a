"""SequenceTracker keeps its missing numbers as ranges: it counts exactly what the plain rule
(one entry per missing number, the oldest forgotten first) counts, and a huge gap is one range."""

from __future__ import annotations

from collections import OrderedDict

from hypothesis import given, settings
from hypothesis import strategies as st

from chaosbench.users.stream import Seen, SequenceTracker


class PlainTracker:
    """The counting rules of chaosbench.users.stream with one dict entry per missing number."""

    def __init__(self, max_missing: int) -> None:
        self.last: int | None = None
        self.gaps = self.duplicates = self.reorders = 0
        self.missing: OrderedDict[int, None] = OrderedDict()
        self.max_missing = max_missing

    def observe(self, seq: int) -> Seen:
        if self.last is None:
            self.last = seq
            return Seen.FIRST
        if seq == self.last + 1:
            self.last = seq
            return Seen.IN_ORDER
        if seq > self.last:
            for n in range(max(self.last + 1, seq - self.max_missing), seq):
                self.missing[n] = None
            while len(self.missing) > self.max_missing:
                self.missing.popitem(last=False)
            self.gaps += seq - self.last - 1
            self.last = seq
            return Seen.GAP
        if seq in self.missing:
            del self.missing[seq]
            self.gaps -= 1
            self.reorders += 1
            return Seen.REORDER
        self.duplicates += 1
        return Seen.DUPLICATE


@settings(max_examples=100, deadline=None)
@given(
    seqs=st.lists(st.integers(min_value=0, max_value=60), max_size=80),
    max_missing=st.integers(min_value=1, max_value=25),
)
def test_ranges_count_what_one_entry_per_number_counts(seqs: list[int], max_missing: int) -> None:
    plain, tracker = PlainTracker(max_missing), SequenceTracker(max_missing=max_missing)
    for seq in seqs:
        assert tracker.observe(seq).kind is plain.observe(seq), seq
        assert (tracker.gaps, tracker.duplicates, tracker.reorders, tracker.last) == (
            plain.gaps,
            plain.duplicates,
            plain.reorders,
            plain.last,
        )
        assert len(tracker._missing) == len(plain.missing)


def test_a_huge_gap_is_one_range_and_late_numbers_are_reorders() -> None:
    tracker = SequenceTracker()
    tracker.observe(1)
    obs = tracker.observe(10_000_002)  # 10 M skipped: only the newest 100 000 stay missing
    assert obs.kind is Seen.GAP and obs.gaps == 10_000_000
    assert len(tracker._missing) == 100_000
    assert tracker.observe(10_000_001).kind is Seen.REORDER  # the newest missing one
    assert tracker.observe(5).kind is Seen.DUPLICATE  # forgotten: counted as a duplicate
    assert tracker.observe(9_950_000).kind is Seen.REORDER  # splits the range
    assert tracker.observe(9_950_000).kind is Seen.DUPLICATE
    assert tracker.gaps == 10_000_000 - 2 and tracker.reorders == 2
