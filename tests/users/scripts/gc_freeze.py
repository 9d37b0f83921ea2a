"""The harness's Freezer on a real LocalRunner: the young threshold raised at test_start, what
lives at spawning_complete frozen, a ramp down collects the garbage frozen with it, test_stop
unfreezes and puts the thresholds back."""

from _common import emit, wait_for  # isort: skip

import gc
import weakref

import gevent
from locust import User, constant, task
from locust.env import Environment

from chaosbench.wiring.gcfreeze import Freezer


class Idle(User):
    wait_time = constant(0.05)

    @task
    def nothing(self) -> None:
        pass


class Cycle:
    def __init__(self) -> None:
        self.me = self


env = Environment(user_classes=[Idle])
freezer = Freezer()
env.events.test_start.add_listener(freezer.on_test_start)
env.events.spawning_complete.add_listener(freezer.on_spawning_complete)
env.events.test_stop.add_listener(freezer.on_test_stop)
runner = env.create_local_runner()
completed: list[int] = []
env.events.spawning_complete.add_listener(lambda user_count, **_: completed.append(user_count))

gc.set_threshold(500, 9, 8)
gc.collect()
garbage = Cycle()
ref = weakref.ref(garbage)
runner.start(6, spawn_rate=100)
del garbage  # garbage in a cycle now: frozen with the rest at spawning_complete
wait_for(lambda: completed == [6], what="spawning_complete at 6 users")
frozen_at_6 = gc.get_freeze_count()
threshold_running = gc.get_threshold()
gc.collect()  # a full collection does not reach the frozen cycle
kept_while_frozen = ref() is not None

runner.start(2, spawn_rate=100)  # ramp down
wait_for(lambda: completed == [6, 2], what="spawning_complete at 2 users")
collected_at_ramp_down = ref() is None
frozen_at_2 = gc.get_freeze_count()
gevent.sleep(0.1)
runner.stop()
wait_for(lambda: runner.state == "stopped", what="the runner to stop")
emit(
    {
        "frozen_at_6": frozen_at_6,
        "kept_while_frozen": kept_while_frozen,
        "collected_at_ramp_down": collected_at_ramp_down,
        "frozen_at_2": frozen_at_2,
        "frozen_after_stop": gc.get_freeze_count(),
        "threshold_running": threshold_running,
        "threshold_after_stop": gc.get_threshold(),
    }
)
