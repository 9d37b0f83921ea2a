"""Waiting for a phase edge so that a busy gevent loop does not make it late.

``gevent.sleep`` wakes through a loop timer, and the loop checks its timers only after it has run
the callbacks queued so far, up to a thousand of them: greenlets that yield often (Locust users
under load) can delay a timer by hundreds of milliseconds. ``wait_until`` instead lets a native
thread sleep until the deadline and then queues the wake-up as a thread-safe callback, which joins
the callback queue behind at most one round of the other greenlets.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import gevent
import gevent.monkey
from gevent.hub import Waiter, get_hub

_start_thread: Any = gevent.monkey.get_original("_thread", "start_new_thread")
_real_sleep: Any = gevent.monkey.get_original("time", "sleep")
_Lock: Any = gevent.monkey.get_original("threading", "Lock")


def wait_until(deadline: float) -> None:
    """Block this greenlet until ``time.monotonic() >= deadline`` (killable as usual)."""
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        return
    hub = get_hub()
    waiter: Waiter[Any] = Waiter(hub)
    state = {"cancelled": False}
    lock = _Lock() if _Lock is not None else threading.Lock()

    def wake() -> None:
        with lock:
            if state["cancelled"]:
                return
            state["cancelled"] = True  # wake once
        waiter.switch(None)

    def sleeper() -> None:
        left = deadline - time.monotonic()
        if left > 0:
            _real_sleep(left)
        hub.loop.run_callback_threadsafe(wake)

    _start_thread(sleeper, ())
    # A loop timer too: it keeps the loop alive while we wait (the thread-safe callback's
    # watcher does not), and wakes us should the thread be late.
    backup = hub.loop.timer(remaining + 0.1)
    backup.start(wake)
    try:
        waiter.get()
    finally:
        with lock:
            state["cancelled"] = True
        backup.close()
    # Never early: a sleep may return a hair before the deadline.
    while time.monotonic() < deadline:
        gevent.sleep(0)
