"""The phase timeline: which phase, burst and faults were active at any instant of a run.

The scheduler appends a mark at every phase change and after every inject and revert; the
recorder asks ``at(wall_time)`` for the mark in force when a request *started*. On a distributed
run the master's marks are sent to the workers (Locust messages), which append them to their own
timeline, so every process attributes samples identically.

This module is the contract between ``chaos`` (which writes marks) and ``analysis`` (which reads
them); it depends on neither.
"""

from __future__ import annotations

import bisect
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any


class Phase(StrEnum):
    """Phases of a run, in the order the scheduler walks them (burst/recovery repeat)."""

    IDLE = "idle"  # before the scheduler starts, or with chaos disabled
    WARMUP = "warmup"
    BASELINE = "baseline"
    BURST = "burst"
    RECOVERY = "recovery"
    COOLDOWN = "cooldown"


@dataclass(frozen=True, slots=True)
class PhaseMark:
    """The state in force from ``wall`` (time.time()) until the next mark.

    ``burst`` is the 1-based burst index for BURST and RECOVERY phases (recovery N follows burst N),
    ``None`` otherwise. ``faults`` names the faults (profile names) active at that moment.
    """

    wall: float
    phase: Phase
    burst: int | None = None
    faults: tuple[str, ...] = ()

    @property
    def label(self) -> str:
        """``burst2``, ``recovery1``, ``baseline``: the phase label used in results and tags."""
        return f"{self.phase.value}{self.burst}" if self.burst is not None else self.phase.value

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["phase"] = self.phase.value
        d["faults"] = list(self.faults)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> PhaseMark:
        return cls(
            wall=float(d["wall"]),
            phase=Phase(d["phase"]),
            burst=None if d.get("burst") is None else int(d["burst"]),
            faults=tuple(d.get("faults", ())),
        )


IDLE_MARK = PhaseMark(wall=0.0, phase=Phase.IDLE)


@dataclass
class PhaseTimeline:
    """Append-only, time-ordered marks with O(log n) lookup by start time."""

    marks: list[PhaseMark] = field(default_factory=list)
    _walls: list[float] = field(default_factory=list, repr=False)

    def append(self, mark: PhaseMark) -> None:
        if self._walls and mark.wall < self._walls[-1]:
            # Out-of-order delivery (worker messages): keep the list sorted.
            i = bisect.bisect_right(self._walls, mark.wall)
            self._walls.insert(i, mark.wall)
            self.marks.insert(i, mark)
            return
        self._walls.append(mark.wall)
        self.marks.append(mark)

    def at(self, wall: float) -> PhaseMark:
        """The mark in force at ``wall``; IDLE before the first mark."""
        i = bisect.bisect_right(self._walls, wall)
        return self.marks[i - 1] if i else IDLE_MARK

    @property
    def current(self) -> PhaseMark:
        return self.marks[-1] if self.marks else IDLE_MARK

    def clear(self) -> None:
        self.marks.clear()
        self._walls.clear()
