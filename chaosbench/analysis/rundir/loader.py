"""Reads a run directory back into ``chaosbench.analysis.model.RunData``; rejects damaged or
foreign ones."""

from __future__ import annotations

import json
import math
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
from chaosbench.ground.text import one_line, short_repr, shorten
from chaosbench.ground.timeline import Phase, PhaseMark


class UnfinishedRunWarning(UserWarning):
    """The run directory has no end time: the run crashed or was killed."""


#: Longest line a reader accepts: a window line with two histograms is a few KB; a longer one
#: is damage, refused before it is parsed (bounded memory and time).
MAX_LINE_BYTES = 4 * 1024 * 1024
#: Largest JSON file (meta.json, integrity.json, injections.json) a reader accepts.
MAX_JSON_BYTES = 64 * 1024 * 1024


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number a run directory holds")


def _finite(text: str) -> float:
    v = float(text)
    if not math.isfinite(v):
        raise ValueError(f"{shorten(text, 40)} is not a finite number")
    return v


def parse_json(text: str | bytes) -> Any:
    """Strict JSON: no NaN or infinities, no absurdly long integers, no runaway nesting.

    ``ValueError`` (or ``RecursionError``) says what is wrong."""
    return json.loads(text, parse_constant=_no_constant, parse_float=_finite)


def _why(exc: BaseException) -> str:
    if isinstance(exc, json.JSONDecodeError):
        return f"{exc.msg}, column {exc.colno}"
    if isinstance(exc, RecursionError):
        return "nested too deeply"
    return one_line(exc, 120)


def _read_json(path: Path) -> Any:
    try:
        if path.stat().st_size > MAX_JSON_BYTES:
            raise RunDirError(f"{path}: larger than {MAX_JSON_BYTES >> 20} MiB: not a run file")
        data = path.read_bytes()
    except OSError as exc:
        raise RunDirError(f"{path}: cannot read ({exc.strerror})") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise RunDirError(f"{path}:{line}: not UTF-8 text") from None
    try:
        return parse_json(text)
    except json.JSONDecodeError as exc:
        raise RunDirError(f"{path}:{exc.lineno}: invalid or truncated JSON ({exc.msg})") from None
    except (ValueError, RecursionError) as exc:
        raise RunDirError(f"{path}: invalid JSON ({_why(exc)})") from None


def _jsonl(path: Path, required: bool = True) -> Iterator[tuple[int, Any]]:
    """(line number, parsed object) of every line, read one line at a time; a missing file (when
    ``required``), a truncated, overlong, non-UTF-8 or invalid line is an error."""
    try:
        fh = open(path, "rb")
    except FileNotFoundError:
        if not required:
            return
        raise RunDirError(f"{path}: missing (deleted?); the run directory is incomplete") from None
    except OSError as exc:
        raise RunDirError(f"{path}: cannot read ({exc.strerror})") from None
    with fh:
        n = 0
        while raw := fh.readline(MAX_LINE_BYTES + 1):
            n += 1
            if not raw.endswith(b"\n"):
                if len(raw) > MAX_LINE_BYTES:
                    raise RunDirError(f"{path}:{n}: line longer than {MAX_LINE_BYTES >> 20} MiB")
                raise RunDirError(f"{path}:{n}: truncated line (no newline at the end of file)")
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise RunDirError(f"{path}:{n}: not UTF-8 text") from None
            try:
                yield n, parse_json(text)
            except (ValueError, RecursionError) as exc:
                raise RunDirError(f"{path}:{n}: invalid JSON line ({_why(exc)})") from None


def read_meta(run_dir: Path) -> RunRecord:
    """The validated run record (meta.json) of a run directory."""
    if not run_dir.is_dir():
        raise RunDirError(f"{run_dir}: not a directory")
    path = run_dir / fmt.META
    if not path.exists():
        raise RunDirError(f"{path}: missing; {run_dir} is not a chaosbench run directory")
    data = _read_json(path)
    try:
        return RunRecord.from_json(data, path)
    except (TypeError, ValueError, OverflowError) as exc:
        raise RunDirError(f"{path}: not valid run metadata ({one_line(exc, 120)})") from None


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


_INT_FIELDS = ("second", "count", "failures", "deadline_misses", "sum_us")
_OPTIONAL_INT_FIELDS = ("deadline_misses_failed", "sum_us_failed", "late")
_STR_FIELDS = ("request_type", "name", "phase")
#: How far a window's second may lie outside the run's [start, end] (late requests, clock skew).
SECOND_SLACK_S = 3600
#: The longest run a reader accepts (a longer span is a damaged start, end or second).
MAX_RUN_S = 31 * 86400


def _check_window(obj: Any, lo: int, hi: int) -> tuple[int, str, str, str, int]:
    """The window line's identity (second, key, late); ``ValueError`` names the bad field."""
    if not isinstance(obj, dict):
        raise ValueError("a window must be a JSON object")
    for name in _INT_FIELDS + _OPTIONAL_INT_FIELDS:
        v = obj.get(name, 0) if name in _OPTIONAL_INT_FIELDS else obj.get(name)
        if name not in obj and name in _INT_FIELDS:
            raise ValueError(f"missing field {name!r}")
        if not isinstance(v, int) or isinstance(v, bool):
            raise ValueError(f"field {name!r} must be an integer, got {short_repr(v, 40)}")
        if v < 0:
            raise ValueError(f"field {name!r} must not be negative, got {v}")
    for name in _STR_FIELDS:
        v = obj.get(name)
        if not isinstance(v, str) or len(v) > 1000:
            raise ValueError(f"field {name!r} must be a string, got {short_repr(v, 40)}")
    for name in ("hdr_ok", "hdr_err"):
        if not isinstance(obj.get(name), str | None):
            raise ValueError(f"field {name!r} must be a string or null")
    errors = obj.get("errors", {})
    if not isinstance(errors, dict) or not all(
        isinstance(c, int) and not isinstance(c, bool) and c >= 0 for c in errors.values()
    ):
        raise ValueError("field 'errors' must map error classes to counts")
    faults = obj.get("faults", [])
    if not isinstance(faults, list) or not all(isinstance(f, str) for f in faults):
        raise ValueError("field 'faults' must be a list of fault names")
    second = obj["second"]
    if not lo <= second <= hi:
        raise ValueError(f"field 'second' {second} lies outside the run ({lo} .. {hi})")
    return (
        second,
        obj["request_type"],
        obj["name"],
        obj["phase"],
        obj["late"] if "late" in obj else 0,
    )


def _second_range(meta: RunRecord | None) -> tuple[int, int]:
    if meta is None:
        return 0, 2**53
    lo = math.floor(meta.start) - SECOND_SLACK_S
    hi = math.ceil(meta.end if meta.end is not None else meta.start + MAX_RUN_S) + SECOND_SLACK_S
    return lo, hi


def load_windows(
    run_dir: Path, meta: RunRecord | None = None, labels: set[str] | None = None
) -> list[Window]:
    """The run's windows, merged per (second, key), with memory-light histograms.

    Every line is checked first (field types, its second inside the run, its phase among
    ``labels`` when given, no line twice: a window line's identity is its second, key and late
    sequence), before any histogram is decoded: a damaged file is refused early. Lines are
    grouped (as JSON); each group is then decoded to its non-zero bins, merged, and kept as a
    ``LazyHistogram`` of them, so that loading a long run does not hold (or even build) one
    189 KB decoded histogram per window.
    """
    path = run_dir / fmt.WINDOWS
    lo, hi = _second_range(meta)
    groups: dict[tuple[int, str, str, str], list[tuple[int, Any]]] = {}
    seen: dict[tuple[int, str, str, str, int], int] = {}
    lines_read = 0
    for n, obj in _jsonl(path):
        try:
            ident = _check_window(obj, lo, hi)
        except ValueError as exc:
            raise RunDirError(f"{path}:{n}: {exc}") from None
        if (first := seen.setdefault(ident, n)) != n:
            raise RunDirError(
                f"{path}:{n}: the same window as line {first} (second {ident[0]}, "
                f"{short_repr(ident[1], 30)} {short_repr(ident[2], 60)}, phase "
                f"{short_repr(ident[3], 30)}, late {ident[4]}): a duplicated line"
            )
        if labels is not None and ident[3] not in labels:
            raise RunDirError(
                f"{path}:{n}: phase {short_repr(ident[3], 40)} is not in {fmt.JOURNAL} "
                "(journal truncated or from another run?)"
            )
        groups.setdefault(ident[:4], []).append((n, obj))
        lines_read = n
    recorded = meta.recorded.windows if meta is not None and meta.recorded is not None else None
    if recorded is not None and recorded != lines_read:
        raise RunDirError(
            f"{path}: {lines_read} window lines but {fmt.META} records {recorded} written "
            "(lines deleted, truncated or added?)"
        )
    scratch = np.zeros(counts_len(), dtype=np.int64)
    out = [_sparse_window(path, lines, scratch) for lines in groups.values()]
    out.sort(key=lambda w: (w.second, w.key.request_type, w.key.name, w.key.phase))
    return out


_JOURNAL_TYPES: dict[str, tuple[type, ...]] = {
    "kind": (str,),
    "name": (str,),
    "type": (str,),
    "target": (str,),
    "burst": (int, type(None)),
    "planned": (int, float, type(None)),
    "start": (int, float),
    "end": (int, float),
    "status": (str,),
    "error": (str, type(None)),
    "intensity": (int, float, type(None)),
    "details": (dict,),
    "measures_rto": (bool,),
    "rto_s": (int, float, type(None)),
}


def _journal_record(obj: Any) -> JournalRecord:
    """One journal line; ``ValueError`` names the field that is wrong."""
    if not isinstance(obj, dict):
        raise ValueError("not a journal record (not a JSON object)")
    for key, v in obj.items():
        kinds = _JOURNAL_TYPES.get(key)
        if kinds is None:
            raise ValueError(f"unknown field {short_repr(key, 40)}")
        if not isinstance(v, kinds) or (isinstance(v, bool) and bool not in kinds):
            raise ValueError(f"field {key!r} has the wrong type ({short_repr(v, 40)})")
    for key in ("kind", "name", "type"):
        if key not in obj:
            raise ValueError(f"missing field {key!r}")
    if obj["kind"] not in ("phase", "inject", "revert"):
        raise ValueError(
            f"field 'kind' must be phase, inject or revert, not {short_repr(obj['kind'], 40)}"
        )
    if obj["kind"] == "phase" and "start" not in obj:
        raise ValueError("a phase record needs its 'start'")
    try:
        return JournalRecord.from_dict(obj)
    except (TypeError, ValueError, KeyError) as exc:
        raise ValueError(f"not a journal record ({one_line(exc, 120)})") from None


def read_journal(run_dir: Path) -> list[JournalRecord]:
    path = run_dir / fmt.JOURNAL
    out: list[JournalRecord] = []
    for n, obj in _jsonl(path):
        try:
            out.append(_journal_record(obj))
        except ValueError as exc:
            raise RunDirError(f"{path}:{n}: {exc}") from None
    return out


def read_marks(run_dir: Path) -> list[PhaseMark]:
    """The phase marks (marks.jsonl), each checked."""
    path = run_dir / fmt.MARKS
    out: list[PhaseMark] = []
    for n, obj in _jsonl(path):
        try:
            if not isinstance(obj, dict) or set(obj) - {"wall", "phase", "burst", "faults"}:
                raise ValueError("not a phase mark (an object with wall, phase, burst, faults)")
            wall, burst, faults = obj.get("wall"), obj.get("burst"), obj.get("faults", [])
            if not isinstance(wall, int | float) or isinstance(wall, bool):
                raise ValueError("field 'wall' must be a number")
            phase = obj.get("phase")
            if not isinstance(phase, str) or phase not in {p.value for p in Phase}:
                raise ValueError(
                    f"field 'phase' is not a phase ({short_repr(obj.get('phase'), 40)})"
                )
            if burst is not None and (not isinstance(burst, int) or isinstance(burst, bool)):
                raise ValueError("field 'burst' must be an integer or null")
            if not isinstance(faults, list) or not all(isinstance(f, str) for f in faults):
                raise ValueError("field 'faults' must be a list of fault names")
            out.append(PhaseMark.from_dict(obj))
        except ValueError as exc:
            raise RunDirError(f"{path}:{n}: {exc}") from None
    return out


def check_marks(
    run_dir: Path, marks: list[PhaseMark], journal: list[JournalRecord], finished: bool = True
) -> set[str]:
    """The marks and the journal's phase records tell the same timeline: every phase record has
    its mark (same label, same time), every mark's phase is in the journal. Returns the phase
    labels windows may carry.

    The recorder writes a phase's mark before its journal record: a run killed between the two
    (no end time) may end with marks that have no record yet; they are accepted."""
    path = run_dir / fmt.MARKS
    at = {(m.label, m.wall) for m in marks}
    phases = [r for r in journal if r.kind == "phase"]
    for r in phases:
        if (r.name, r.start) not in at:
            raise RunDirError(
                f"{path}: no mark for phase {short_repr(r.name, 40)} at {r.start} that "
                f"{fmt.JOURNAL} records (marks deleted or truncated?)"
            )
    labels = {r.name for r in phases} | {Phase.IDLE.value}
    last = max((r.start for r in phases), default=-math.inf)
    for n, m in enumerate(marks, start=1):
        if m.label in labels:
            continue
        if not finished and m.wall >= last:
            labels.add(m.label)  # written just before the kill
            continue
        raise RunDirError(
            f"{path}:{n}: phase {m.label!r} has no phase record in {fmt.JOURNAL} "
            "(journal truncated or from another run?)"
        )
    return labels


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


#: The counters the integrity criteria judge: an integrity.json without them is refused (a
#: missing counter read as 0 would make "0 lost" a pass by absence).
INTEGRITY_REQUIRED = (
    "checked",
    "orders_acknowledged",
    "orders_lost",
    "orders_duplicated",
    "ws_messages",
    "ws_gaps",
)


def _integrity(run_dir: Path, finished: bool) -> Integrity:
    path = run_dir / fmt.INTEGRITY
    if not path.exists():
        if finished:
            raise RunDirError(f"{path}: missing although the run finished")
        return Integrity()
    data = _read_json(path)
    if not isinstance(data, dict):
        raise RunDirError(f"{path}: not a JSON object")
    missing = [k for k in INTEGRITY_REQUIRED if k not in data]
    if missing:
        raise RunDirError(
            f"{path}: no {', '.join(map(repr, missing))}: not the integrity of a chaosbench run"
        )
    known: dict[str, Any] = {}
    for f in fields(Integrity):
        if f.name not in data:
            continue
        v = data[f.name]
        if f.name == "checked":
            ok = isinstance(v, bool)
        elif f.name == "extra":
            ok = isinstance(v, dict)
        else:
            ok = isinstance(v, int) and not isinstance(v, bool) and v >= 0
        if not ok:
            raise RunDirError(
                f"{path}: {f.name!r} has the wrong type or sign ({short_repr(v, 40)})"
            )
        known[f.name] = v
    integrity = Integrity(**known)
    integrity.extra.update({k: v for k, v in data.items() if k not in known})
    return integrity


def _injections(run_dir: Path) -> dict[str, int]:
    path = run_dir / fmt.INJECTIONS
    if not path.exists():
        return {}
    data = _read_json(path)
    inj = data.get("injections") if isinstance(data, dict) else None
    if not isinstance(inj, dict) or not all(
        isinstance(v, int) and not isinstance(v, bool) for v in inj.values()
    ):
        raise RunDirError(f"{path}: 'injections' must map fault names to counts")
    return {str(k): int(v) for k, v in inj.items()}


def _check_span(run_dir: Path, meta: RunRecord) -> None:
    path = run_dir / fmt.META
    if meta.end is not None and not 0 <= meta.end - meta.start <= MAX_RUN_S:
        raise RunDirError(
            f"{path}: 'end' {meta.end} is before 'start' {meta.start} or more than "
            f"{MAX_RUN_S // 86400} days after it"
        )


def load(path: Path | str) -> RunData:
    """Load a run directory. ``RunDirError`` names the file (and line) that is wrong, in one
    bounded line; a damaged directory is refused, never judged on what is left of it."""
    run_dir = Path(path)
    try:
        return _load(run_dir)
    except RunDirError as exc:
        raise RunDirError(shorten(str(exc))) from None


def _load(run_dir: Path) -> RunData:
    meta = read_meta(run_dir)
    _check_span(run_dir, meta)
    ended = meta.end
    if ended is None:
        warnings.warn(
            f"{run_dir}: the run has no end time (it crashed or was killed); "
            "loading what was measured until then",
            UnfinishedRunWarning,
            stacklevel=3,
        )
    journal = read_journal(run_dir)
    labels = check_marks(run_dir, read_marks(run_dir), journal, finished=ended is not None)
    windows = load_windows(run_dir, meta, labels)
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
