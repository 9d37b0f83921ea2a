"""Test hook for ``--processes``: each forked worker records what it reports to the master.

Every windows message a worker sends (``chaosbench_windows``) is added up per (second, request
type, name, phase) and written, with the worker's pid, to ``CB_TEST_PROCESSES_DIR/<worker>.json``
at the worker's init and after each send (so the file is whole whichever listener sends last).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from locust import events
from locust.runners import WorkerRunner

from chaosbench.analysis.recording.session import MSG_WINDOWS

OUT = os.environ.get("CB_TEST_PROCESSES_DIR", "")


@events.init.add_listener
def _on_init(environment: Any, runner: Any = None, **_: Any) -> None:
    if not OUT or not isinstance(runner, WorkerRunner):
        return
    counts: dict[str, int] = {}
    path = Path(OUT) / f"{runner.client_id}.json"
    send = runner.send_message

    def recording_send(msg_type: str, data: Any = None, client_id: Any = None) -> None:
        send(msg_type, data, client_id)
        if msg_type != MSG_WINDOWS:
            return
        for w in data.get("windows", []):
            key = json.dumps([w["second"], w["request_type"], w["name"], w["phase"]])
            counts[key] = counts.get(key, 0) + int(w["count"])
        path.write_text(json.dumps({"pid": os.getpid(), "counts": counts}))

    runner.send_message = recording_send
    path.write_text(json.dumps({"pid": os.getpid(), "counts": counts}))  # this worker started
