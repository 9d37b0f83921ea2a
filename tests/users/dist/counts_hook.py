"""Test hook for the distributed run: at quitting, each worker writes its own integrity counters
(and the pg_slow_queries share it saw) to ``CB_TEST_COUNTS_DIR/<worker id>.json``."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import gevent
from locust import events
from locust.runners import WorkerRunner

from chaosbench.ground.state import RunState

OUT = os.environ.get("CB_TEST_COUNTS_DIR", "")
SEEN: dict[str, float] = {"pg_slow_share": 0.0}


def _watch(state: RunState) -> None:
    """The largest pg_slow share this worker's switches held (the master sends them)."""
    while True:
        SEEN["pg_slow_share"] = max(SEEN["pg_slow_share"], state.switches.pg_slow_share)
        gevent.sleep(0.05)


@events.init.add_listener
def _on_init(environment: Any, runner: Any = None, **_: Any) -> None:
    if OUT and isinstance(runner, WorkerRunner):
        gevent.spawn(_watch, RunState.of(environment))


@events.quitting.add_listener
def _on_quitting(environment: Any, **_: Any) -> None:
    runner = environment.runner
    if not OUT or not isinstance(runner, WorkerRunner):
        return
    c = RunState.of(environment).counters
    data = {
        "order_ids": sorted(c.acked_orders),
        "ws_messages": c.ws_messages,
        "ws_gaps": c.ws_gaps,
        "host": environment.host,
        "pg_slow_share_seen": SEEN["pg_slow_share"],
    }
    (Path(OUT) / f"{runner.client_id}.json").write_text(json.dumps(data))
