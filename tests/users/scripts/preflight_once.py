"""The check of a test start runs once, for whichever listener asks first, and again after the
test stopped; the harness registers the options' test_start listener before the chaos and
results ones. Args: DEAD_PORT"""

from _common import emit  # isort: skip

import sys

from locust import User, events, task
from locust.env import Environment

import chaosbench.harness  # noqa: F401
from chaosbench.users import options
from chaosbench.users.targets import Target
from chaosbench.wiring import chaos

dead = int(sys.argv[1])
calls: list[int] = []


class Probed(User):
    @classmethod
    def targets(cls, opts: object) -> list[Target]:
        calls.append(1)
        return [Target("HTTP API", "127.0.0.1", dead, "--host")]

    @task
    def noop(self) -> None:
        pass


env = Environment(user_classes=[Probed])
first = options.preflight(env)
per_check = len(calls)  # the address check and the probe each ask the class
second = options.preflight(env)
once = len(calls)
options._on_test_stop(env)
third = options.preflight(env)
handlers = events.test_start._handlers
emit(
    {
        "first": first,
        "same": second == first,
        "per_check": per_check,
        "asked_first_start": once,
        "asked_after_stop": len(calls),
        "third": third == first,
        "unreachable": options.unreachable(env),
        "options_first": handlers.index(options._on_test_start)
        < handlers.index(chaos.on_test_start),
    }
)
