"""Fail fast while a dependency is known to be down.

After a failure the breaker stays open for ``cooldown`` seconds: callers get ``Unavailable`` at
once instead of each waiting for a timeout. After the cooldown, requests try the dependency again
(the first success closes the breaker). ``/health`` probes ignore the breaker and feed it.

With ``hold`` > 0 (``--breaker-hold-s``, off by default) the breaker is slow to trust a dependency
again: the first success after failures does not close it but holds it open for ``hold`` more
seconds (callers keep getting ``Unavailable``), and only a success after that closes it. The
effect of a dependency outage thus outlasts the outage by a known time: ``hold`` seconds after the
first successful call once the dependency is back (at most ``cooldown`` after it is back, when
requests keep coming). A failure during the hold starts over.
"""

from __future__ import annotations

import logging
import time

log = logging.getLogger("chaosbench.sut.breaker")


class Unavailable(Exception):
    """A dependency cannot serve the request now; the API answers 503 naming ``dependency``."""

    def __init__(self, dependency: str, reason: str) -> None:
        super().__init__(f"{dependency} unavailable: {reason}")
        self.dependency = dependency
        self.reason = reason


class Breaker:
    def __init__(self, dependency: str, cooldown: float, hold: float = 0.0) -> None:
        self.dependency = dependency
        self.cooldown = cooldown
        self.hold = hold
        self._open_until = 0.0
        self._held_since: float | None = None  # monotonic time the hold started
        self.last_error = ""
        self.failures = 0
        self.holds = 0  # holds started (the dependency came back while the breaker was failing)

    def check(self) -> None:
        """Raise ``Unavailable`` while open."""
        if time.monotonic() < self._open_until:
            raise Unavailable(self.dependency, self.last_error or "recent failure")

    @property
    def is_open(self) -> bool:
        return time.monotonic() < self._open_until

    def failure(self, error: str) -> None:
        if not self.is_open and not self.last_error:
            log.warning("%s failing: %s", self.dependency, error)
        self.failures += 1
        self.last_error = error
        self._held_since = None
        self._open_until = time.monotonic() + self.cooldown

    def success(self) -> None:
        if self.hold > 0 and self.last_error:
            now = time.monotonic()
            if self._held_since is None:
                self._held_since = now
                self.holds += 1
                self._open_until = now + self.hold
                log.warning("%s answers again; held open for %gs", self.dependency, self.hold)
                return
            if now < self._held_since + self.hold:
                return
            self._held_since = None
        if self.last_error:
            log.warning("%s recovered (%d failures)", self.dependency, self.failures)
            self.last_error = ""
        self._open_until = 0.0
