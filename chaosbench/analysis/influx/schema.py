"""The InfluxDB schema: the ONE place that names measurements, tags and fields.

Dashboards (grafana/) and tests check against these names. Tags are low-cardinality only: no
exception text, no ids, no URLs with ids (``name`` is the request name the users chose, which is
a route template such as ``/orders/[id]``). See docs/influxdb.md.

``chaosbench_window`` (one point per second, key and status; timestamp = the second, in ms,
plus ``late`` ms for a late delta so that it does not overwrite the first point)
    tags:   run_id, request_type, name, phase, status (``ok`` | ``error``)
    fields: count, failures, deadline_misses (integers); mean, p50, p90, p95, p99, max (ms, float)
``chaosbench_event`` (one point per journal record: phase change, inject, revert)
    tags:   run_id, kind (``phase`` | ``inject`` | ``revert``), type, name, status
    fields: value=1i, burst (int, 0 when none), duration_ms, text (annotation text), error
``chaosbench_run`` (at the start: metadata; at the end: the verdict)
    tags:   run_id
    fields: started, ended (unix s), profile_sha256, git_revision, exit_code (int), verdict
"""

from __future__ import annotations

from typing import Any

from chaosbench.analysis.hdr import percentiles
from chaosbench.analysis.recording.window import ClosedWindow
from chaosbench.ground.journal import JournalRecord

WINDOW = "chaosbench_window"
EVENT = "chaosbench_event"
RUN = "chaosbench_run"

WINDOW_TAGS = ("run_id", "request_type", "name", "phase", "status")
WINDOW_FIELDS = (
    "count",
    "failures",
    "deadline_misses",
    "mean",
    "p50",
    "p90",
    "p95",
    "p99",
    "max",
)
EVENT_TAGS = ("run_id", "kind", "type", "name", "status")
EVENT_FIELDS = ("value", "burst", "duration_ms", "text", "error")
RUN_TAGS = ("run_id",)
RUN_FIELDS = ("started", "ended", "profile_sha256", "git_revision", "exit_code", "verdict")

STATUS_OK = "ok"
STATUS_ERROR = "error"

MEASUREMENTS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    WINDOW: (WINDOW_TAGS, WINDOW_FIELDS),
    EVENT: (EVENT_TAGS, EVENT_FIELDS),
    RUN: (RUN_TAGS, RUN_FIELDS),
}

_PCTS = (50.0, 90.0, 95.0, 99.0)


def _tag(v: str) -> str:
    v = v.replace("\\", "\\\\").replace(",", r"\,").replace("=", r"\=").replace(" ", r"\ ")
    return v.replace("\n", " ") or "-"


def _field(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return f"{v}i"
    if isinstance(v, float):
        return repr(v)
    s = str(v).replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")
    return f'"{s}"'


def line(measurement: str, tags: dict[str, str], fields: dict[str, Any], ts_ms: int) -> str:
    """One line of InfluxDB line protocol, millisecond precision."""
    t = ",".join(f"{k}={_tag(v)}" for k, v in tags.items())
    f = ",".join(f"{k}={_field(v)}" for k, v in fields.items() if v is not None)
    return f"{measurement},{t} {f} {ts_ms}"


def window_lines(cw: ClosedWindow, run_id: str) -> list[str]:
    """One point per status present in the window."""
    ts = cw.second * 1000 + min(cw.late, 999)
    out: list[str] = []
    ok_misses = cw.deadline_misses - cw.deadline_misses_failed
    parts = (
        (STATUS_OK, cw.hist_ok, cw.count - cw.failures, ok_misses, cw.sum_us - cw.sum_us_failed),
        (STATUS_ERROR, cw.hist_err, cw.failures, cw.deadline_misses_failed, cw.sum_us_failed),
    )
    for status, hist, count, misses, sum_us in parts:
        if hist is None or count == 0:
            continue
        p50, p90, p95, p99 = percentiles(hist, _PCTS)
        fields = {
            "count": count,
            "failures": count if status == STATUS_ERROR else 0,
            "deadline_misses": misses,
            "mean": sum_us / count / 1000.0,
            "p50": p50 / 1000.0,
            "p90": p90 / 1000.0,
            "p95": p95 / 1000.0,
            "p99": p99 / 1000.0,
            "max": hist.get_max_value() / 1000.0,
        }
        tags = {
            "run_id": run_id,
            "request_type": cw.request_type,
            "name": cw.name,
            "phase": cw.phase,
            "status": status,
        }
        out.append(line(WINDOW, tags, fields, ts))
    return out


def event_line(record: JournalRecord, run_id: str) -> str:
    tags = {
        "run_id": run_id,
        "kind": record.kind,
        "type": record.type,
        "name": record.name,
        "status": record.status,
    }
    text = f"{record.kind} {record.name}"
    if record.target:
        text += f" on {record.target}"
    fields: dict[str, Any] = {
        "value": 1,
        "burst": record.burst or 0,
        "duration_ms": max(0.0, (record.end - record.start) * 1000.0),
        "text": text,
        "error": record.error,
    }
    return line(EVENT, tags, fields, int(record.start * 1000))


def run_line(run_id: str, ts: float, fields: dict[str, Any]) -> str:
    unknown = set(fields) - set(RUN_FIELDS)
    if unknown:
        raise ValueError(f"unknown {RUN} fields: {sorted(unknown)}")
    return line(RUN, {"run_id": run_id}, fields, int(ts * 1000))
