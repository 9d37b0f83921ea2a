"""A user's operation timer, reused from one operation to the next: operations that end in time
never time out, however long the user has been running; one that does not end in time fails
as an OperationTimeout, and the next one is fine again; the timer stays armed across
operations and re-arms for an operation that started after it was armed. Args: none"""

from _common import emit, make_env  # isort: skip

import time

import gevent
from locust import task

from chaosbench.users.base import LoadUser, OperationTimeout


class Timed(LoadUser):
    @task
    def noop(self) -> None:
        pass


env, rec = make_env([Timed])
user = Timed(env)
TIMER = 2.0


def op(name: str, seconds: float, timeout: float = TIMER) -> bool:
    with user.measure("T", name, timeout=timeout) as m:
        gevent.sleep(seconds)
    return m.ok


# in time, for well over the timer's length in all (a timer that kept its first deadline
# would fail every operation started after it)
start = time.monotonic()
quick = 0
while time.monotonic() - start < 2.5 * TIMER and quick < 100_000:
    assert op("quick", 0.005)
    quick += 1
late = op("late", 30.0, timeout=0.3)
after = [op("after", 0.005) for _ in range(20)]
# a late operation on a timer armed by an earlier one: the timer fires in that one's time,
# re-arms for the rest of the late one's, and fails it no earlier than its own timeout
assert op("armer", 0.005, timeout=0.4)
gevent.sleep(0.2)
rearmed = op("rearmed", 30.0, timeout=0.4)
try:
    with user.measure("T", "raised", timeout=0.3, suppress=False):
        gevent.sleep(30.0)
    raised = ""
except OperationTimeout as exc:
    raised = str(exc)
emit(
    {
        "quick": quick,
        "quick_failures": [e["exception"] for e in rec.named("T", "quick") if e["exception"]],
        "late": late,
        "late_event": rec.named("T", "late")[0],
        "after": after,
        "rearmed": rearmed,
        "rearmed_event": rec.named("T", "rearmed")[0],
        "raised": raised,
        "raised_events": len(rec.named("T", "raised")),
    }
)
