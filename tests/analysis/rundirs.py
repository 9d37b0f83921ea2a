"""A small real run directory (the synthetic generator written by the recorder's own writer),
copies of it to damage, and the analysis command run on one in this process."""

from __future__ import annotations

import contextlib
import io
import json
import shutil
import traceback
from dataclasses import dataclass
from pathlib import Path

from chaosbench.analysis.cli import main
from chaosbench.analysis.model import Integrity, RunData, WindowKey
from chaosbench.analysis.synthetic import KeySpec, SyntheticSpec, generate, write_run_dir

#: Seconds: 3 warmup + 8 baseline + (4 burst + 6 recovery) x 2 + 2 cooldown; two keys.
SMALL = SyntheticSpec(
    warmup_s=3,
    baseline_s=8,
    burst_on_s=4,
    burst_off_s=6,
    bursts=2,
    cooldown_s=2,
    keys=[KeySpec("HTTP", "POST /orders", 40, 20.0), KeySpec("PG", "q", 30, 4.0)],
    added_ms=80.0,
    lag_s=1,
    seed=3,
    integrity=Integrity(orders_acknowledged=20, orders_stored=20, checked=True, ws_messages=50),
)


def write_small(path: Path) -> Path:
    return write_run_dir(generate(SMALL), path)


def without_chaos(run: RunData) -> RunData:
    """``run`` as a run with chaos off records it (``--chaos-profile none``): every window in
    phase ``idle``, no phase, no journal, no injections, no scheduler seed."""
    for w in run.windows:
        w.key = WindowKey(w.key.request_type, w.key.name, "idle")
    run.phases, run.journal, run.injections = [], [], {}
    run.meta.seed = None
    return run


def set_field(path: Path, index: int | None, field: str, value: object) -> None:
    """Set ``field`` of line ``index`` of a JSON-lines file (modulo its length), or of the JSON
    file ``path`` when ``index`` is None; NaN and infinities are written as JSON extensions."""
    if index is None:
        obj = json.loads(path.read_text())
        obj[field] = value
        path.write_text(json.dumps(obj, indent=2) + "\n")
        return
    lines = path.read_bytes().split(b"\n")[:-1]
    obj = json.loads(lines[index % len(lines)])
    obj[field] = value
    lines[index % len(lines)] = json.dumps(obj).encode()
    path.write_bytes(b"".join(x + b"\n" for x in lines))


def copy_of(template: Path, dest: Path) -> Path:
    shutil.copytree(template, dest)
    return dest


@dataclass(slots=True)
class Outcome:
    code: int | None  # None: an exception escaped (a traceback)
    out: str
    err: str

    @property
    def error_lines(self) -> list[str]:
        return [x for x in self.err.splitlines() if x.strip()]


def judge(run_dir: Path, *args: str) -> Outcome:
    """``python -m chaosbench.analysis RUN_DIR ...`` in this process (reports to --out)."""
    out, err = io.StringIO(), io.StringIO()
    report_dir = run_dir.parent / f"{run_dir.name}.reports"
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code: int | None = main([str(run_dir), "--out", str(report_dir), *args])
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 2
    except BaseException:  # what the fuzz counts as a traceback
        code = None
        err.write(traceback.format_exc())
    return Outcome(code, out.getvalue(), err.getvalue())
