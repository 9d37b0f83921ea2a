"""The chaos journal: one plain-data record per phase change and per inject/revert.

Like Chaos Toolkit's journal, a record says what was planned, what happened and when, and how it
ended. Records are written to the run directory (``journal.jsonl``) and streamed as chaos events.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

RecordKind = Literal["phase", "inject", "revert"]
RecordStatus = Literal["ok", "error", "dry_run", "skipped"]


@dataclass(slots=True)
class JournalRecord:
    kind: RecordKind
    name: str  # fault name from the profile, or the phase label (``burst2``)
    type: str  # fault type (``latency``) or the phase (``burst``)
    target: str = ""  # what the fault touched (route name, host:port, pid); empty for phases
    burst: int | None = None
    planned: float | None = None  # wall clock of the schedule
    start: float = 0.0  # wall clock when the action began
    end: float = 0.0  # wall clock when it finished
    status: RecordStatus = "ok"
    error: str | None = None  # one line, for status == "error"
    intensity: float | None = None
    details: dict[str, Any] = field(default_factory=dict)  # plain data only (JSON-serialisable)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> JournalRecord:
        return cls(**d)
