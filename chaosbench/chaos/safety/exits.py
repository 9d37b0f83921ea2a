"""Exit paths: whatever ends the process, the running scheduler reverts its faults first.

One ``ExitHandlers`` per harness, on that harness's kill switch (signal handlers are per process:
each harness installs its own once, and each looks up the scheduler its kill switch holds):

- SIGTERM: a gevent signal handler stops the scheduler (reason ``signal``) in its own greenlet;
  Locust's own SIGTERM handler then shuts down as usual.
- SIGINT: ours notes that the stop is due to a signal and stops the scheduler from a fresh
  greenlet; then Locust gets the KeyboardInterrupt it relies on, but in the main greenlet only
  (where Locust's ``main()`` catches it and shuts down): raised in the hub or in a user's
  greenlet, gevent would print it as a traceback. A previous handler other than Python's
  default is chained as it is.
- atexit: the last resort, if the process exits with a scheduler still running.

``signal_name`` is the signal that ended the run (``SIGINT``/``SIGTERM``), None without one: the
results wiring reverts first and then judges such a run as interrupted.
"""

from __future__ import annotations

import atexit
import logging
import signal
from types import FrameType
from typing import Any

import gevent
import greenlet

from chaosbench.chaos.safety.killswitch import KillSwitch

log = logging.getLogger("chaosbench.chaos")


class ExitHandlers:
    def __init__(self, kill_switch: KillSwitch) -> None:
        self.kill_switch = kill_switch
        self.installed = False
        self.signal_name: str | None = None

    def _stop_for(self, reason: str, detail: str) -> None:
        s = self.kill_switch.active
        if s is not None and not s.finished:
            s.stop(reason, detail=detail)

    def _on_sigterm(self) -> None:
        self.signal_name = self.signal_name or "SIGTERM"
        if self.kill_switch.active is None:
            return
        log.warning("chaos: SIGTERM, reverting every fault")
        self._stop_for("signal", "SIGTERM")

    def _chain_sigint(self) -> None:
        previous = signal.getsignal(signal.SIGINT)
        if previous == signal.SIG_IGN:
            return  # the process was started with SIGINT ignored (a background job): respect it

        main = greenlet.getcurrent()  # install() runs in Locust's main greenlet (at init)

        def handler(signum: int, frame: FrameType | None) -> Any:
            self.signal_name = self.signal_name or "SIGINT"
            s = self.kill_switch.active
            if s is not None and not s.finished:
                s.stop_reason = s.stop_reason or "signal"
                gevent.spawn(self._stop_for, "signal", "SIGINT")
            if callable(previous) and previous is not signal.default_int_handler:
                return previous(signum, frame)
            if previous in (signal.SIG_DFL, signal.default_int_handler):
                interrupt_main(main)
            return None

        signal.signal(signal.SIGINT, handler)

    def _at_exit(self) -> None:
        s = self.kill_switch.active
        if s is None or s.done:
            return
        log.warning("chaos: process exiting with chaos running; reverting every fault")
        # After a crash the hub may still hold the error for the main greenlet and throw it
        # again at the first switch: that consumes it, and the next attempt goes through.
        for attempt in range(1, 6):
            try:
                s.stop("error", detail="process exit with chaos running")
                return
            except BaseException as exc:
                log.warning("chaos: revert at exit, attempt %d interrupted: %r", attempt, exc)
        log.error("chaos: revert at exit failed; run `python -m chaosbench.chaos reset`")

    def install(self) -> None:
        """Install the handlers once (main thread only for the signal handlers)."""
        if self.installed:
            return
        self.installed = True
        atexit.register(self._at_exit)
        try:
            gevent.signal_handler(signal.SIGTERM, self._on_sigterm)
            self._chain_sigint()
        except ValueError:  # not the main thread: atexit and the Locust events still cover us
            log.debug("chaos: signal handlers not installed (not the main thread)")


def interrupt_main(main: greenlet.greenlet) -> None:
    """KeyboardInterrupt in ``main`` only: at once when it is the greenlet running now, else
    thrown into it from the hub's next turn (where ``main`` waits, e.g. in Locust's join)."""
    if greenlet.getcurrent() is main or main.dead:
        raise KeyboardInterrupt
    gevent.get_hub().loop.run_callback(_throw_interrupt, main)


def _throw_interrupt(main: greenlet.greenlet) -> None:
    if not main.dead:
        main.throw(KeyboardInterrupt)
