"""Writes the run directory as the run goes: every closed window and journal record is appended
and flushed at once, so a crash keeps everything measured until then."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import asdict
from pathlib import Path
from typing import IO, Any

from chaosbench.analysis.model import Integrity
from chaosbench.analysis.recording.window import ClosedWindow
from chaosbench.analysis.rundir import format as fmt
from chaosbench.analysis.rundir.record import LocustTotals, RecordedCounts, RunRecord
from chaosbench.ground.errors import RunDirError
from chaosbench.ground.journal import JournalRecord
from chaosbench.ground.timeline import PhaseMark


def _dump(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"), allow_nan=False)


def write_json_atomic(path: Path, data: Any) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=2, sort_keys=True, allow_nan=False)
        fh.write("\n")
    os.replace(tmp, path)


class RunDirWriter:
    """One run directory. Not thread-safe: used from the gevent loop only."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.meta: RunRecord | None = None  # set by start()
        self.windows_written = 0
        self.samples_written = 0
        self.journal_written = 0
        self._files: dict[str, IO[str]] = {}

    def create(self) -> None:
        """Create the directory; refuse one that already holds a run."""
        if (self.path / fmt.META).exists():
            raise RunDirError(f"{self.path}: already holds a run; choose another --run-id")
        try:
            self.path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise RunDirError(f"{self.path}: cannot create the run directory ({exc})") from None

    def start(self, record: RunRecord) -> None:
        self.meta = record
        self.write_meta()
        for name in (fmt.WINDOWS, fmt.JOURNAL, fmt.MARKS):
            self._file(name)

    def write_meta(self) -> None:
        if self.meta is not None:
            write_json_atomic(self.path / fmt.META, self.meta.to_json())

    def record_chaos_stopped(self, reason: str) -> None:
        if self.meta is not None:
            self.meta.chaos_stopped = reason
            self.write_meta()

    def _file(self, name: str) -> IO[str]:
        fh = self._files.get(name)
        if fh is None:
            fh = open(self.path / name, "a", encoding="utf-8")
            self._files[name] = fh
        return fh

    def _append(self, name: str, lines: Iterable[str]) -> None:
        text = "".join(f"{line}\n" for line in lines)
        if text:
            fh = self._file(name)
            fh.write(text)
            fh.flush()

    def append_windows(self, windows: list[ClosedWindow]) -> None:
        self._append(fmt.WINDOWS, (_dump(w.to_json()) for w in windows))
        self.windows_written += len(windows)
        self.samples_written += sum(w.count for w in windows)

    def append_journal(self, record: JournalRecord) -> None:
        self._append(fmt.JOURNAL, [_dump(record.to_dict())])
        self.journal_written += 1

    def append_mark(self, mark: PhaseMark) -> None:
        self._append(fmt.MARKS, [_dump(mark.to_dict())])

    def write_integrity(self, integrity: Integrity) -> None:
        write_json_atomic(self.path / fmt.INTEGRITY, asdict(integrity))

    def write_injections(self, injections: dict[str, int], errors: dict[str, int]) -> None:
        write_json_atomic(
            self.path / fmt.INJECTIONS, {"injections": injections, "inject_errors": errors}
        )

    def finish(
        self,
        end: float,
        locust: LocustTotals | None = None,
        recorded: RecordedCounts | None = None,
    ) -> None:
        if self.meta is not None:
            self.meta.end, self.meta.locust, self.meta.recorded = end, locust, recorded
        self.write_meta()
        self.close()

    def close(self) -> None:
        for fh in self._files.values():
            fh.close()
        self._files.clear()
