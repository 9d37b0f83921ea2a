"""Two Locust Environments in one process: each has its own run (harness, timeline, counters,
switches, client clock, kill switch); faults and a scheduler on one leave the other untouched.
Prints what each saw."""

from _common import emit  # isort: skip

import random

from locust.env import Environment

from chaosbench.chaos.faults import FaultContext, catalogue
from chaosbench.chaos.profile import parse_profile
from chaosbench.chaos.scheduler import Scheduler
from chaosbench.ground.state import RunState
from chaosbench.wiring.harness import Harness

env1, env2, plain = Environment(), Environment(), Environment()
h1, h2 = Harness.of(env1), Harness.of(env2)
s1, s2 = h1.state, h2.state
out: dict = {
    "harness_once": Harness.of(env1) is h1,
    "state_is_harness_state": RunState.of(env1) is s1 and RunState.of(env2) is s2,
    "states_differ": s1 is not s2,
    "parts_differ": all(
        getattr(s1, p) is not getattr(s2, p)
        for p in ("timeline", "events", "counters", "switches", "clock")
    ),
    "library_state": RunState.of(plain) is RunState.of(plain) and RunState.of(plain) is not s1,
}

faults = catalogue()


def fault(type_name: str, state: RunState, **settings: object) -> object:
    cls = faults[type_name]
    ctx = FaultContext(rng=random.Random(3), state=state)
    return cls(f"t-{type_name}", cls.Settings(**settings), ctx, 1.0)


slow = fault("pg_slow_queries", s1, share=1.0, sleep_ms=500)
skew = fault("clock_skew", s1, offset_ms=3000)
slow.inject()  # type: ignore[attr-defined]
skew.inject()  # type: ignore[attr-defined]
s1.counters.order_acknowledged("o-1", "c-1")
out["env1"] = {"pg_delay": s1.switches.pg_slow_delay(), "skew": s1.clock.skew}
out["env2"] = {
    "pg_delay": s2.switches.pg_slow_delay(),
    "skew": s2.clock.skew,
    "acked": len(s2.counters.acked_orders),
}
slow.revert()  # type: ignore[attr-defined]
skew.revert()  # type: ignore[attr-defined]

text = """
seed: 1
phases: {warmup: 0, baseline: 0.05s, burst_on: 0.05s, burst_off: 0.05s, bursts: 1, cooldown: 0}
faults:
  - {name: skew, type: clock_skew, offset_ms: 1000}
"""
seen: dict[str, list[str]] = {"env1": [], "env2": []}
s1.events.phase_changed.add_listener(lambda mark, **_: seen["env1"].append(mark.label))
s2.events.phase_changed.add_listener(lambda mark, **_: seen["env2"].append(mark.label))
armed: list[bool] = []
s1.events.fault_injected.add_listener(
    lambda record, **_: armed.append(
        h1.kill_switch.active is not None and h2.kill_switch.active is None
    )
)
ctx = FaultContext(state=s1)
sched = Scheduler(
    parse_profile(text, "t.yaml"),
    ctx,
    timeline=s1.timeline,
    events=s1.events,
    kill_switch=h1.kill_switch,
)
sched.run()
out["phases"] = seen
out["marks"] = {"env1": len(s1.timeline.marks), "env2": len(s2.timeline.marks)}
out["armed_only_env1"] = armed == [True]
out["kill_env2"] = h2.kill_switch.kill("nothing runs there")
out["skews_after"] = [s1.clock.skew, s2.clock.skew]
emit(out)
