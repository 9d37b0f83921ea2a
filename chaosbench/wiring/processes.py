"""Locust's ``--processes N``: one command, a master and N workers forked from it.

Locust imports the locustfiles and parses the options once, then forks the workers, and only then
fires ``init`` in each process: every harness object (proxy, scheduler, recording) is built after
the fork, in the process that uses it. The master runs the chaos (one proxy, one scheduler) and
writes the one run directory; the forked workers only load, take the phase marks and fault switches
from the master and send it their windows (``chaosbench.wiring.chaos``, ``.results``).

Two things Locust leaves to its users, done here:

- A forked worker dies with its master. Locust's ``--processes`` master does not end its workers
  when it exits early (a refused start at ``init``, a crash, SIGKILL): they would wait a minute for
  its heartbeat. Each forked worker asks the kernel for SIGKILL when its parent exits
  (``PR_SET_PDEATHSIG``, Linux); a worker whose master is already gone exits at once. A worker
  holds no fault and no part of the run directory, so nothing is lost by killing it.
- A master that quits while its workers still run users (SIGTERM to the master alone, or an
  error) first tells them to stop (``stop_workers``), so that their last windows arrive before the
  run is judged instead of the master waiting for them in vain.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import sys
from typing import Any

from locust.event import Events
from locust.runners import STATE_INIT, STATE_STOPPED, STATE_STOPPING, MasterRunner, WorkerRunner

log = logging.getLogger("chaosbench.processes")

#: The process that imported the harness: with ``--processes``, Locust imports the locustfiles in
#: the master before it forks, so a forked worker's parent is this pid (a constant of the process).
_IMPORTER_PID = os.getpid()
_PR_SET_PDEATHSIG = 1


def install(events: Events) -> None:
    """Register the listener that ties a forked worker's life to its master's."""
    events.init.add_listener(_on_init)


def forked_worker(runner: Any, options: Any) -> bool:
    """Whether this process is a worker that Locust's ``--processes`` forked."""
    return isinstance(runner, WorkerRunner) and bool(getattr(options, "processes", None))


def _on_init(environment: Any, runner: Any = None, **_: Any) -> None:
    if forked_worker(runner, environment.parsed_options):
        die_with_parent(_IMPORTER_PID)


def die_with_parent(parent: int) -> bool:
    """SIGKILL for this process when its parent exits; exit now if ``parent`` is already gone.
    False where the kernel offers no such request (not Linux): the worker then ends on the
    master's heartbeat timeout, as Locust's own workers do."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
            return False
    except (OSError, AttributeError):
        return False
    if os.getppid() != parent:  # the master exited before the request was made
        log.warning("chaosbench: the master (pid %d) is gone; this worker exits", parent)
        os._exit(0)
    return True


def stop_workers(runner: Any) -> bool:
    """Master: stop the test now if it is still running (Locust sends ``stop`` to every worker,
    whose ``test_stop`` sends its last windows, and waits until they report no user). False when
    there was nothing to stop (not a master, or the test stopped already)."""
    if not isinstance(runner, MasterRunner):
        return False
    if runner.state in (STATE_INIT, STATE_STOPPED, STATE_STOPPING):
        return False
    runner.stop()
    return True
