"""Reads a run directory back into ``chaosbench.analysis.model.RunData``; rejects damaged or
foreign ones."""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from dataclasses import fields
from pathlib import Path
from typing import Any

import numpy as np

from chaosbench.analysis.hdr import Sparse, counts_len, decode_sparse, merge_sparse
from chaosbench.analysis.model import Integrity, PhaseSpan, RunData, Window
from chaosbench.analysis.recording.window import ClosedWindow
from chaosbench.analysis.rundir import format as fmt
from chaosbench.analysis.rundir.lazyhist import LazyHistogram
from chaosbench.analysis.rundir.record import RunRecord
from chaosbench.ground.errors import RunDirError
from chaosbench.ground.journal import JournalRecord


class UnfinishedRunWarning(UserWarning):
    """The run directory has no end time: the run crashed or was killed."""


def _read_json(path: Path) -> Any:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RunDirError(f"{path}: cannot read ({exc.strerror})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise RunDirError(f"{path}: invalid or truncated JSON at line {exc.lineno}") from None


def _jsonl(path: Path) -> Iterator[tuple[int, Any]]:
    """(line number, parsed object) of every line; a truncated or invalid line is an error."""
    if not path.exists():
        return
    try:
        data = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise RunDirError(f"{path}: cannot read ({exc})") from None
    if not data:
        return
    lines = data.split("\n")
    if lines[-1] != "":
        raise RunDirError(f"{path}:{len(lines)}: truncated line (no newline at the end of file)")
    for n, line in enumerate(lines[:-1], start=1):
        try:
            yield n, json.loads(line)
        except json.JSONDecodeError:
            raise RunDirError(f"{path}:{n}: invalid JSON line") from None


def read_meta(run_dir: Path) -> RunRecord:
    """The validated run record (meta.json) of a run directory."""
    if not run_dir.is_dir():
        raise RunDirError(f"{run_dir}: not a directory")
    path = run_dir / fmt.META
    if not path.exists():
        raise RunDirError(f"{path}: missing; {run_dir} is not a chaosbench run directory")
    return RunRecord.from_json(_read_json(path), path)


def read_windows(run_dir: Path) -> list[ClosedWindow]:
    """Every window line as written (late deltas not merged)."""
    path = run_dir / fmt.WINDOWS
    out: list[ClosedWindow] = []
    for n, obj in _jsonl(path):
        try:
            out.append(ClosedWindow.from_json(obj))
        except ValueError as exc:
            raise RunDirError(f"{path}:{n}: {exc}") from None
    return out


def merge_windows(closed: list[ClosedWindow]) -> list[Window]:
    """One Window per (second, key): late deltas and per-worker lines merged."""
    merged: dict[tuple[int, str, str, str], Window] = {}
    for cw in closed:
        k = (cw.second, cw.request_type, cw.name, cw.phase)
        w = merged.get(k)
        if w is None:
            merged[k] = cw.to_window()
        else:
            w.count += cw.count
            w.failures += cw.failures
            w.deadline_misses += cw.deadline_misses
            for h in (cw.hist_ok, cw.hist_err):
                if h is not None:
                    w.histogram.add(h)
            for e, c in cw.errors.items():
                w.errors[e] = w.errors.get(e, 0) + c
        cw.release()
    return [merged[k] for k in sorted(merged)]


def _sparse_window(path: Path, lines: list[tuple[int, Any]], scratch: np.ndarray) -> Window:
    """One Window from the lines of one (second, key), histograms decoded straight to their
    non-zero bins (``hdr.decode_sparse``), never to a full ``HdrHistogram``.

    Every field but the histograms is validated by ``ClosedWindow.from_json`` (given the line
    without them), the histograms here, with the same messages."""
    parts: list[Sparse] = []
    count = failures = misses = 0
    errors: dict[str, int] = {}
    first: ClosedWindow | None = None
    for n, obj in lines:
        total = obj.get("count")
        if "count" in obj and (not isinstance(total, int) or isinstance(total, bool)):
            raise RunDirError(f"{path}:{n}: field 'count' has the wrong type")
        held = 0
        try:
            cw = ClosedWindow.from_json({**obj, "hdr_ok": None, "hdr_err": None, "count": 0})
            for field in ("hdr_ok", "hdr_err"):
                text = obj.get(field)
                if text is None:
                    continue
                if not isinstance(text, str):
                    raise ValueError(f"field {field!r} is not a string")
                try:
                    sp = decode_sparse(text, scratch)
                except ValueError as exc:
                    raise ValueError(
                        f"field {field!r} is not a valid HDR histogram encoding ({exc})"
                    ) from None
                held += sp.total
                parts.append(sp)
            if "count" not in obj:
                raise ValueError("missing field 'count'")
            if held != total:
                raise ValueError(f"histograms hold {held} samples but count is {total}")
        except ValueError as exc:
            raise RunDirError(f"{path}:{n}: {exc}") from None
        first = first or cw
        count += total
        failures += cw.failures
        misses += cw.deadline_misses
        for e, c in cw.errors.items():
            errors[e] = errors.get(e, 0) + c
    assert first is not None
    empty = Sparse(np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64))
    return Window(
        second=first.second,
        key=first.key,
        count=count,
        failures=failures,
        deadline_misses=misses,
        histogram=LazyHistogram(merge_sparse(parts) if parts else empty),
        errors=errors,
    )


def load_windows(run_dir: Path) -> list[Window]:
    """The run's windows, merged per (second, key), with memory-light histograms.

    Lines are grouped first (as JSON); each group is then decoded to its non-zero bins, merged,
    and kept as a ``LazyHistogram`` of them, so that loading a long run does not hold (or even
    build) one 189 KB decoded histogram per window.
    """
    path = run_dir / fmt.WINDOWS
    groups: dict[tuple[Any, ...], list[tuple[int, Any]]] = {}
    for n, obj in _jsonl(path):
        if not isinstance(obj, dict):
            raise RunDirError(f"{path}:{n}: a window must be a JSON object")
        k = (obj.get("second"), obj.get("request_type"), obj.get("name"), obj.get("phase"))
        try:
            groups.setdefault(k, []).append((n, obj))
        except TypeError:  # a list or an object where a second or a name belongs
            raise RunDirError(f"{path}:{n}: invalid second, request_type, name or phase") from None
    scratch = np.zeros(counts_len(), dtype=np.int64)
    out = [_sparse_window(path, lines, scratch) for lines in groups.values()]
    out.sort(key=lambda w: (w.second, w.key.request_type, w.key.name, w.key.phase))
    return out


def read_journal(run_dir: Path) -> list[JournalRecord]:
    path = run_dir / fmt.JOURNAL
    out: list[JournalRecord] = []
    for n, obj in _jsonl(path):
        try:
            if not isinstance(obj, dict):
                raise TypeError("not an object")
            out.append(JournalRecord.from_dict(obj))
        except TypeError as exc:
            raise RunDirError(f"{path}:{n}: not a journal record ({exc})") from None
    return out


def phases_from_journal(journal: list[JournalRecord], end: float | None) -> list[PhaseSpan]:
    marks: list[JournalRecord] = []
    for r in sorted((r for r in journal if r.kind == "phase"), key=lambda r: r.start):
        if not marks or marks[-1].name != r.name:  # a repeated label is the same phase
            marks.append(r)
    spans: list[PhaseSpan] = []
    for i, r in enumerate(marks):
        nxt = marks[i + 1].start if i + 1 < len(marks) else (end if end is not None else r.start)
        spans.append(
            PhaseSpan(
                label=r.name,
                phase=r.type,
                burst=r.burst,
                start=r.start,
                end=max(nxt, r.start),
                planned_start=r.planned,
            )
        )
    return spans


def _integrity(run_dir: Path, finished: bool) -> Integrity:
    path = run_dir / fmt.INTEGRITY
    if not path.exists():
        if finished:
            raise RunDirError(f"{path}: missing although the run finished")
        return Integrity()
    data = _read_json(path)
    if not isinstance(data, dict):
        raise RunDirError(f"{path}: not a JSON object")
    known = {f.name for f in fields(Integrity)}
    try:
        integrity = Integrity(**{k: v for k, v in data.items() if k in known})
    except TypeError as exc:
        raise RunDirError(f"{path}: {exc}") from None
    integrity.extra.update({k: v for k, v in data.items() if k not in known})
    return integrity


def _injections(run_dir: Path) -> dict[str, int]:
    path = run_dir / fmt.INJECTIONS
    if not path.exists():
        return {}
    data = _read_json(path)
    inj = data.get("injections") if isinstance(data, dict) else None
    if not isinstance(inj, dict) or not all(isinstance(v, int) for v in inj.values()):
        raise RunDirError(f"{path}: 'injections' must map fault names to counts")
    return {str(k): int(v) for k, v in inj.items()}


def load(path: Path | str) -> RunData:
    """Load a run directory. ``RunDirError`` names the file (and line) that is wrong."""
    run_dir = Path(path)
    meta = read_meta(run_dir)
    ended = meta.end
    if ended is None:
        warnings.warn(
            f"{run_dir}: the run has no end time (it crashed or was killed); "
            "loading what was measured until then",
            UnfinishedRunWarning,
            stacklevel=2,
        )
    journal = read_journal(run_dir)
    windows = load_windows(run_dir)
    return RunData(
        run_id=meta.run_id,
        meta=meta,
        windows=windows,
        phases=phases_from_journal(journal, ended),
        journal=journal,
        integrity=_integrity(run_dir, ended is not None),
        injections=_injections(run_dir),
        started=meta.start,
        ended=ended,
    )
