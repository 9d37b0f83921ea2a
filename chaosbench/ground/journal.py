"""The chaos journal: one plain-data record per phase change and per inject/revert.

Like Chaos Toolkit's journal, a record says what was planned, what happened and when, and how it
ended. Records are written to the run directory (``journal.jsonl``) and streamed as chaos events.

What the analysis reads is a typed field; ``details`` is for people (and may hold the same value).
A fault that measures a recovery time (kill-and-restart) has an attribute ``rto_s``
(``float | None``): the scheduler copies it into ``measures_rto``/``rto_s`` of its inject and
revert records.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

#: Why the chaos stopped (``chaos_stopped`` in meta.json) when that makes the run unjudgeable:
#: the analysis adds the note and the verdict is "cannot measure" (exit 2).
PROXY_DIED = "fault_proxy_died"
UNJUDGEABLE_STOPS: dict[str, str] = {
    PROXY_DIED: "the fault proxy process died mid-run: its faults could not act",
}

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
    #: The fault measures a recovery time; ``rto_s`` None then means "not back (yet)".
    measures_rto: bool = False
    rto_s: float | None = None  # seconds from the kill until the component answered again

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> JournalRecord:
        if "measures_rto" not in d and "rto_s" in (d.get("details") or {}):
            # a journal written before the typed field: the RTO was in ``details`` only
            rto = d["details"]["rto_s"]
            d = {**d, "measures_rto": True, "rto_s": None if rto is None else float(rto)}
        return cls(**d)
