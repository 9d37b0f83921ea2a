"""clock_skew on a run: the WebSocket user's client clock moves, the recorder's does not.

A WebSocket user reads the test feed server while the run's clock_skew fault (+60 s) is active;
a plain sample (no start time, as Locust's own users report) is fired at the same moment. The
recorder (the run's timeline, the real clock) must put that sample in the second it started in
by the real clock and keep the window open (a +60 s clock would close it at once), while the WS
user's delivery latency is off by the skew. Prints what it saw."""

from _common import emit, make_env, wait_for  # isort: skip

import random
import time

from feedserver import FeedServer
from locust import task

from chaosbench.analysis.recording.recorder import Recorder
from chaosbench.chaos.faults import FaultContext, catalogue
from chaosbench.ground.state import RunState
from chaosbench.users import WebSocketUser

SKEW_MS = 60_000
server = FeedServer(rate=100).start()


class Feed(WebSocketUser):
    ws_url = server.url

    @task
    def hold(self) -> None:
        pass


env, rec = make_env([Feed])
state = RunState.of(env)
recorder = Recorder(state.timeline, grace=2.0)
recorder.active = True
env.events.request.add_listener(recorder.on_request)
user = Feed(env)
user.on_start()
wait_for(lambda: user.tracker.messages >= 20, what="first messages")


def latencies() -> list[float]:
    return [e["response_time"] for e in rec.named("WS", "message quote")]


out: dict = {"before_ms": max(latencies())}
cls = catalogue()["clock_skew"]
fault = cls(
    "skew", cls.Settings(offset_ms=SKEW_MS), FaultContext(rng=random.Random(1), state=state)
)
fault.inject()
seen = len(latencies())
wait_for(lambda: len(latencies()) >= seen + 20, what="messages under skew")
out["skewed_ms"] = sorted(latencies()[seen + 5 :])[0]
out["client_minus_real_s"] = state.clock.wall() - time.time()
real = time.time()
env.events.request.fire(
    request_type="X", name="plain", response_time=5.0, response_length=0, exception=None, context={}
)
out["closed_at_once"] = [w.name for w in recorder.close_due() if w.name == "plain"]
fault.revert()
seen = len(latencies())
wait_for(lambda: len(latencies()) >= seen + 20, what="messages after revert")
out["after_ms"] = sorted(latencies()[seen + 5 :])[-1]
user.on_stop()
server.stop()
plain = [w for w in recorder.close_all() if w.name == "plain"]
out["plain_seconds"] = [w.second for w in plain]
out["real_second"] = int(real - 0.005)
out["skew_after_revert"] = state.clock.skew
emit(out)
