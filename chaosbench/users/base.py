"""What every chaosbench user shares: request reporting with deadlines, pacing, backoff.

``LoadUser.measure(kind, name)`` times one operation and fires Locust's request event with the
complete metadata (request_type, name, start_time, response_time in ms from perf_counter,
response_length, exception, context). The context always carries ``deadline_ms``; under
open-model pacing also ``paced: True`` and ``schedule_lag_ms``, and the first operation of each
paced iteration counts from its intended start (coordinated-omission correction).
"""

from __future__ import annotations

import random
import time
from types import TracebackType
from typing import Any, ClassVar

import gevent
from locust import User

from chaosbench.users.options import LoadOptions, load_options, unreachable
from chaosbench.users.pacing import IntendedStart, Pacer
from chaosbench.users.targets import Target

#: Deadlines a user keeps looked up, per (request_type, name), before it starts over.
_DEADLINE_CACHE = 1024

#: Exceptions that end a user rather than count as a failed request.
_PASS_THROUGH: tuple[type[BaseException], ...] = (
    gevent.GreenletExit,
    KeyboardInterrupt,
    SystemExit,
)


class OperationTimeout(Exception):
    """The client-side timeout of one operation expired (the server did not answer in time)."""


class _Expired(BaseException):
    """Thrown into a user by its :class:`OperationTimer` (a BaseException, like
    ``gevent.Timeout``, so that ``except Exception`` in an operation does not swallow it);
    :class:`Measurement` reports it as an :class:`OperationTimeout`."""

    def __init__(self, timer: OperationTimer) -> None:
        super().__init__(f"operation timer of {timer.seconds:g} s")
        self.timer = timer


class OperationTimer:
    """One user's timer for the operations of one length, kept armed from one operation to the
    next: ``start()`` notes when the operation started and ``cancel()`` that it ended, and neither
    touches libev while the timer is armed. When the libev timer fires it looks at the operation
    in flight: a late one gets :class:`_Expired` thrown in, one still in time re-arms the timer
    for the rest of its time, and without one the timer stays unarmed (an idle user's timer does
    not wake the loop). The watcher holds no reference on the loop (``ref=False``): an armed
    timer does not keep ``gevent.wait()`` waiting. A stopped and restarted ``gevent.Timeout``
    keeps its first deadline, so that one cannot be reused."""

    def __init__(self, seconds: float, keep_armed: bool = True) -> None:
        self.seconds = seconds
        self.keep_armed = keep_armed  # False: stopped at cancel() (a timer used once)
        self._loop = gevent.get_hub().loop
        self._watcher = self._loop.timer(seconds, 0.0, ref=False)
        self.signal = _Expired(self)  # one instance, thrown again at each expiry
        self._started: float | None = None  # perf_counter() start of the operation in flight
        self._target: Any = None  # the greenlet running it

    @property
    def active(self) -> bool:
        """An operation is in flight (started, not yet cancelled)."""
        return self._started is not None

    def start(self, now: float | None = None) -> None:
        """The operation starts (at ``now``, a ``time.perf_counter()`` reading, if given)."""
        self._target = gevent.getcurrent()
        self._started = time.perf_counter() if now is None else now
        if not self._watcher.active:
            self._watcher.start(self._fire)

    def cancel(self) -> None:
        self._started = None
        self._target = None
        if not self.keep_armed:
            self._watcher.stop()

    def _fire(self) -> None:
        started, target = self._started, self._target
        if started is None or target is None or target.dead:
            return  # no operation in flight: unarmed until the next one starts
        left = started + self.seconds - time.perf_counter()
        if left > 0.0:  # armed by an earlier operation: the rest of this one's time
            self._watcher.close()
            self._watcher = self._loop.timer(left, 0.0, ref=False)
            self._watcher.start(self._fire)
            return
        target.throw(self.signal)


class Backoff:
    """Capped exponential backoff with full jitter: sleep uniform(0, min(cap, base * 2**n))."""

    def __init__(self, base: float = 0.1, cap: float = 5.0) -> None:
        self.base = base
        self.cap = cap
        self.attempt = 0

    def next_delay(self) -> float:
        ceiling = min(self.cap, self.base * (2**self.attempt))
        self.attempt = min(self.attempt + 1, 30)
        return random.uniform(0.0, ceiling)

    def reset(self) -> None:
        self.attempt = 0


class Measurement:
    """Context manager timing one operation and firing its request event on exit.

    Exceptions of the operation are reported as the failure and suppressed (``ok`` tells the
    caller); set ``response_length`` and optionally ``fail(exc)`` inside the block.
    """

    # slots for its own attributes (one is made per operation), a __dict__ for a caller's
    __slots__ = (
        "__dict__", "_intended", "_suppress", "_t0", "_timer", "_wall0", "exception", "name",
        "request_type", "response_length", "response_time", "timeout", "user",
    )  # fmt: skip

    def __init__(
        self,
        user: LoadUser,
        request_type: str,
        name: str,
        timeout: float | None = None,
        paced: bool = True,
        suppress: bool = True,
    ) -> None:
        self.user = user
        self.request_type = request_type
        self.name = name
        self.timeout = timeout
        self.response_length = 0
        self.exception: BaseException | None = None
        self.response_time = 0.0
        self._suppress = suppress
        self._intended: IntendedStart | None = (
            user.claim_start() if paced and user.pacer is not None else None
        )
        self._timer: OperationTimer | None = None
        self._t0 = 0.0
        self._wall0 = 0.0

    @property
    def ok(self) -> bool:
        return self.exception is None

    def fail(self, exc: BaseException) -> None:
        self.exception = exc

    def __enter__(self) -> Measurement:
        self._wall0 = time.time()
        self._t0 = time.perf_counter()
        if self.timeout is not None:
            self._timer = self.user.operation_timer(self.timeout)
            self._timer.start(self._t0)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> bool:
        end = time.perf_counter()
        expired = False
        if self._timer is not None:
            self._timer.cancel()
            if isinstance(exc, _Expired) and exc.timer is self._timer:  # its own expired
                expired = True
                exc.__traceback__ = None  # the instance is thrown again next time
                exc = OperationTimeout(
                    f"{self.request_type} {self.name}: no answer in {self.timeout:g} s"
                )
        if exc is not None and isinstance(exc, _PASS_THROUGH):
            return False
        if exc is not None and self.exception is None:
            self.exception = exc
        self.response_time = self.user.report(
            self.request_type,
            self.name,
            start_perf=self._t0,
            start_wall=self._wall0,
            end_perf=end,
            response_length=self.response_length,
            exception=self.exception,
            intended=self._intended,
        )
        if expired and not self._suppress and self.exception is not None:
            raise self.exception from None
        return exc is not None and self._suppress and isinstance(exc, Exception)


class LoadUser(User):
    """Base of the chaosbench users (abstract). Subclasses set ``kind`` and their targets.

    Class attributes:
      pacing_rate: open-model task iterations per second per user; 0 = closed model with
        ``think_time`` (``--pacing-rate`` overrides for all chaosbench users when > 0).
      think_time: (min, max) seconds between tasks in the closed model.
    """

    abstract = True
    kind: ClassVar[str] = ""
    pacing_rate: float = 0.0
    think_time: tuple[float, float] = (0.5, 1.5)

    def __init__(self, environment: Any) -> None:
        super().__init__(environment)
        self.options: LoadOptions = load_options(environment)
        rate = self.options.pacing_rate or self.pacing_rate
        self.pacer: Pacer | None = Pacer(rate) if rate > 0 else None
        self._timers: dict[float, OperationTimer] = {}
        self._deadlines: dict[tuple[str, str], float] = {}
        self._plain_context = type(self).context is User.context

    def operation_timer(self, seconds: float) -> OperationTimer:
        """A timer of ``seconds`` with no operation in flight: the user's own, reused from one
        operation to the next; a fresh one, stopped when its operation ends, when the user's has
        an operation in flight (a measured operation inside another)."""
        timer = self._timers.get(seconds)
        if timer is None:
            timer = self._timers[seconds] = OperationTimer(seconds)
        elif timer.active:
            return OperationTimer(seconds, keep_armed=False)
        return timer

    # -- what the user talks to ----------------------------------------------------------------
    @classmethod
    def targets(cls, opts: LoadOptions) -> list[Target]:
        """The servers this user class needs (probed once at test start)."""
        return []

    def on_start(self) -> None:
        if unreachable(self.environment):
            # the run is stopping (one error line already printed): wait quietly to be stopped
            gevent.sleep(60)
            from locust.exception import StopUser

            raise StopUser()

    # -- timing --------------------------------------------------------------------------------
    def wait_time(self) -> float:
        if self.pacer is not None:
            return self.pacer.wait()
        low, high = self.think_time
        return random.uniform(low, high) if high > 0 else 0.0

    def claim_start(self) -> IntendedStart | None:
        """The intended start for the first operation of a paced iteration (else None)."""
        return self.pacer.claim() if self.pacer is not None else None

    def deadline_ms(self, request_type: str, name: str) -> float:
        key = (request_type, name)
        deadline = self._deadlines.get(key)
        if deadline is None:
            if len(self._deadlines) >= _DEADLINE_CACHE:
                self._deadlines.clear()  # names of unbounded cardinality: no growth
            deadline = self._deadlines[key] = self.options.deadlines.for_request(request_type, name)
        return deadline

    def request_context(
        self, request_type: str, name: str, intended: IntendedStart | None
    ) -> dict[str, Any]:
        # Locust's own User.context() is a new empty dict: no copy of it per request
        ctx: dict[str, Any] = {} if self._plain_context else dict(self.context())
        ctx["deadline_ms"] = self.deadline_ms(request_type, name)
        if self.pacer is not None:
            ctx["paced"] = True
            ctx["schedule_lag_ms"] = intended.lag_ms if intended is not None else 0.0
        return ctx

    # -- reporting -----------------------------------------------------------------------------
    def measure(
        self,
        request_type: str,
        name: str,
        timeout: float | None = None,
        paced: bool = True,
        suppress: bool = True,
    ) -> Measurement:
        """Time one operation: ``with self.measure("PG", "read order") as m: ...``."""
        return Measurement(self, request_type, name, timeout, paced, suppress)

    def report(
        self,
        request_type: str,
        name: str,
        *,
        start_perf: float,
        start_wall: float,
        end_perf: float,
        response_length: int = 0,
        exception: BaseException | None = None,
        intended: IntendedStart | None = None,
        context: dict[str, Any] | None = None,
    ) -> float:
        """Fire the request event; returns the response time reported (ms)."""
        if intended is not None:
            start_perf, start_wall = intended.perf, intended.wall
        response_time = (end_perf - start_perf) * 1000.0
        ctx = self.request_context(request_type, name, intended)
        if context:
            ctx.update(context)
        self.environment.events.request.fire(
            request_type=request_type,
            name=name,
            start_time=start_wall,
            response_time=response_time,
            response_length=response_length,
            response=None,
            context=ctx,
            exception=exception,
        )
        return response_time
