"""Locust's ``--processes N``: one command, a master and N workers forked from it.

Locust imports the locustfiles and parses the options once, then forks the workers, and only then
fires ``init`` in each process: every harness object (proxy, scheduler, recording) is built after
the fork, in the process that uses it. The master runs the chaos (one proxy, one scheduler) and
writes the one run directory; the forked workers only load, take the phase marks and fault switches
from the master and send it their windows (``chaosbench.wiring.chaos``, ``.results``).

Two things Locust leaves to its users, done here:

- A forked worker dies with its master. Locust's ``--processes`` master does not end its workers
  when it exits early (a refused start at ``init``, a crash, SIGKILL): they would go on trying to
  reach it, and then wait a minute for its heartbeat. Right after Locust's fork (an
  ``os.register_at_fork`` hook that acts only when the fork is Locust's ``main()``'s, not a
  subprocess's), each forked worker asks the kernel for SIGKILL when its parent exits
  (``PR_SET_PDEATHSIG``, Linux), before it even connects to the master. A worker holds no fault
  and no part of the run directory, so nothing is lost by killing it.
- A master's workers send their last windows before the master stops listening. Locust's
  ``quit`` on a master (the profile's end, ``--run-time``) tells the workers to quit and stops
  reading their messages half a second later: a worker whose users take longer to stop (a
  WebSocket closing, a loaded machine) had its last windows dropped. At the master's
  ``test_stop`` every worker still running users is told to stop first, and the master waits
  (bounded) until each has reported that it stopped; its windows come before that report on the
  same connection. A master that quits while its test still runs (SIGTERM to the master alone)
  stops the test first the same way (``stop_workers``).
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import sys
import time
from types import FrameType
from typing import Any

import gevent
from locust.event import Events
from locust.runners import (
    STATE_CLEANUP,
    STATE_INIT,
    STATE_RUNNING,
    STATE_SPAWNING,
    STATE_STOPPED,
    STATE_STOPPING,
    MasterRunner,
)

log = logging.getLogger("chaosbench.processes")

_PR_SET_PDEATHSIG = 1
_BUSY = (STATE_SPAWNING, STATE_RUNNING, STATE_CLEANUP, STATE_STOPPING)
#: how long a master waits for its workers to stop, beyond the users' own --stop-timeout
STOP_WAIT_S = 15.0


def install(events: Events) -> None:
    """Register the listeners (a master waits for its workers to stop at its test_stop) and the
    fork hook that ties a forked worker's life to its master's."""
    events.test_stop.add_listener(_on_test_stop)
    _install_fork_hook()


def _install_fork_hook() -> None:
    if not getattr(_install_fork_hook, "done", False):  # once per process (import reloads)
        os.register_at_fork(after_in_child=_after_fork_in_child)
        _install_fork_hook.done = True  # type: ignore[attr-defined]


def _after_fork_in_child() -> None:
    """In a child of ``fork()``: when it is Locust's ``--processes`` fork, die with the parent."""
    if locust_fork(sys._getframe(1)):
        die_with_parent(os.getppid())


def locust_fork(frame: FrameType | None) -> bool:
    """Whether the fork that ``frame`` is in was made by Locust's ``main()`` (``--processes``):
    its first caller outside gevent and ``os`` is ``locust/main.py``'s ``main``. A subprocess
    (``_posixsubprocess`` with a ``preexec_fn``) or any other fork is not."""
    for _ in range(12):
        if frame is None:
            return False
        path = frame.f_code.co_filename.replace("\\", "/")
        if "/gevent/" in path or path.endswith(("/os.py", "<frozen os>")):
            frame = frame.f_back
            continue
        return path.endswith("/locust/main.py") and frame.f_code.co_name == "main"
    return False


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


def _on_test_stop(environment: Any, **_: Any) -> None:
    runner = environment.runner
    if isinstance(runner, MasterRunner):
        wait_workers_stopped(runner, float(environment.stop_timeout or 0.0) + STOP_WAIT_S)


def wait_workers_stopped(runner: MasterRunner, timeout: float) -> int:
    """Tell every worker still running users to stop and wait, at most ``timeout`` s, until each
    has reported so (or left). Returns how many had to be told."""
    busy = [c.id for c in runner.clients.all if c.state in _BUSY]
    told = len(busy)
    for client_id in busy:
        runner.send_message("stop", None, client_id=client_id)
    deadline = time.monotonic() + timeout
    while busy and time.monotonic() < deadline:
        busy = [i for i in busy if i in runner.clients and runner.clients[i].state in _BUSY]
        if busy:
            gevent.sleep(0.05)
    if busy:
        log.warning("chaosbench: %d worker(s) still running after %.0f s", len(busy), timeout)
    return told
