"""Fail fast while a dependency is known to be down.

After a failure the breaker stays open for ``cooldown`` seconds: callers get ``Unavailable`` at
once instead of each waiting for a timeout. After the cooldown, requests try the dependency again
(the first success closes the breaker). ``/health`` probes ignore the breaker and feed it.
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
    def __init__(self, dependency: str, cooldown: float) -> None:
        self.dependency = dependency
        self.cooldown = cooldown
        self._open_until = 0.0
        self.last_error = ""
        self.failures = 0

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
        self._open_until = time.monotonic() + self.cooldown

    def success(self) -> None:
        if self.last_error:
            log.warning("%s recovered (%d failures)", self.dependency, self.failures)
            self.last_error = ""
        self._open_until = 0.0
