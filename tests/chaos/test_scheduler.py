"""The scheduler against real Redis traffic through the embedded fault proxy (in-process)."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import gevent
import pytest

from chaosbench.chaos.faults import FaultContext
from chaosbench.chaos.profile import Profile, parse_profile
from chaosbench.chaos.safety import KillSwitch
from chaosbench.chaos.scheduler import Scheduler
from chaosbench.proxy import EmbeddedProxy, ToxiproxyClient
from chaosbench.proxy.client import ProxySpec
from tests.chaos._sched_support import (
    Traffic,
    median_latency,
    median_ping,
    proxy,  # noqa: F401
    toxics_left,
)
from tests.conftest import free_port, wait_until

EDGE_MARGIN_MS = 50.0


def profile_text(port: int, phases: str, faults: str, extra: str = "") -> str:
    return f"""
seed: 4
{extra}
phases: {phases}
proxy:
  routes:
    redis: {{listen: 127.0.0.1:{port}, upstream: 127.0.0.1:6379}}
faults:
{faults}
"""


def sched(profile: Profile, ctx: FaultContext, cls: type[Scheduler] = Scheduler) -> Scheduler:
    """A scheduler on a run state of its own (timeline, events) with its own kill switch."""
    state = ctx.state
    return cls(profile, ctx, timeline=state.timeline, events=state.events, kill_switch=KillSwitch())


def kill(s: Scheduler, reason: str) -> bool:
    assert s.kill_switch is not None
    return s.kill_switch.kill(reason=reason)


def make(px: EmbeddedProxy, text: str, **kw: Any) -> tuple[Profile, Scheduler, int]:
    profile = parse_profile(text, "test.yaml", **kw)
    client = ToxiproxyClient(px.url)
    client.populate(
        [ProxySpec(n, r.listen, r.upstream, True, r.protocol) for n, r in profile.routes.items()]
    )
    ctx = FaultContext(proxy_url=px.url, routes=profile.route_table())
    port = int(profile.routes["redis"].listen.rsplit(":", 1)[1])
    return profile, sched(profile, ctx), port


def pairs(s: Scheduler) -> tuple[list[tuple[str, int | None]], list[tuple[str, int | None]]]:
    inj = [(r.name, r.burst) for r in s.journal if r.kind == "inject"]
    rev = [(r.name, r.burst) for r in s.journal if r.kind == "revert"]
    return inj, rev


def test_three_bursts_edges_on_schedule_and_faults_on_traffic(proxy: EmbeddedProxy) -> None:  # noqa: F811
    text = profile_text(
        free_port(),
        "{warmup: 1s, baseline: 2s, burst_on: 1s, burst_off: 1.5s, bursts: 3, cooldown: 0.5s}",
        "  - {name: lat, type: latency, route: redis, latency_ms: 100}",
    )
    _profile, s, port = make(proxy, text)
    base = median_ping(port)
    seen: list[str] = []
    listener = s.events.phase_changed.add_listener(
        lambda mark, planned_wall: seen.append(mark.label)
    )
    traffic = Traffic(port).start()
    try:
        s.start()
        s.join(30)
    finally:
        traffic.stop()
        s.events.phase_changed._handlers.remove(listener)
    assert s.finished and s.stop_reason == "completed", s.error

    phases = [r for r in s.journal if r.kind == "phase"]
    labels = [r.name for r in phases]
    assert labels == ["warmup", "baseline", "burst1", "recovery1", "burst2", "recovery2",
                      "burst3", "recovery3", "cooldown", "idle"]  # fmt: skip
    for r in phases[:-1]:
        assert r.planned is not None
        assert abs(r.start - r.planned) * 1000 < EDGE_MARGIN_MS, (r.name, r.start - r.planned)
        assert r.details["late_ms"] < EDGE_MARGIN_MS
    # Edges come from the run start: burst3 is 2 + 1 + 2 x 2.5 s after warmup began.
    assert phases[6].planned - phases[0].planned == pytest.approx(8.0, abs=1e-6)
    inj, rev = pairs(s)
    assert inj == rev == [("lat", 1), ("lat", 2), ("lat", 3)]
    assert all(r.status == "ok" for r in s.journal)
    assert s.injections == {"lat": 3} and s.scenario_injections == {"lat": 3}
    assert "burst2" in seen and seen[-1] == "idle"
    # Marks: the fault is named while it is active, and only then.
    marks = s.timeline.marks
    assert any(m.label == "burst1" and m.faults == ("lat",) for m in marks)
    assert all(m.faults == () for m in marks if m.phase.value in ("baseline", "cooldown", "idle"))

    # Traffic: +100 ms within bursts, back to baseline in the recoveries.
    by_name = {r.name: r for r in phases}
    for b in (1, 2, 3):
        inject = next(r for r in s.journal if r.kind == "inject" and r.burst == b)
        revert = next(r for r in s.journal if r.kind == "revert" and r.burst == b)
        during = median_latency(traffic.between(inject.end + 0.05, revert.start - 0.05))
        assert 0.085 < during - base < 0.2, (b, during, base)
        rec = by_name[f"recovery{b}"]
        after = median_latency(traffic.between(revert.end + 0.15, rec.start + 1.5))
        assert after - base < 0.03, (b, after, base)
    assert toxics_left(proxy.url) == {}


class Boom(Scheduler):
    """A scheduler that fails right after its first inject (an exception mid-burst)."""

    def _inject(self, *a: Any, **kw: Any) -> None:
        super()._inject(*a, **kw)
        raise RuntimeError("boom in the middle of a burst")


def test_exception_mid_burst_reverts_everything(proxy: EmbeddedProxy) -> None:  # noqa: F811
    text = profile_text(
        free_port(),
        "{warmup: 0, baseline: 0.5s, burst_on: 5s, burst_off: 1s, bursts: 2, cooldown: 0}",
        "  - {name: lat, type: latency, route: redis, latency_ms: 300}\n"
        "  - {name: down, type: route_down, route: redis, start: 3s, duration: 1s}",
    )
    profile, _, port = make(proxy, text)
    ctx = FaultContext(proxy_url=proxy.url, routes=profile.route_table())
    s = sched(profile, ctx, Boom)
    base = median_ping(port)
    s.start()
    s.join(20)
    assert s.stop_reason == "error" and s.error and "boom" in s.error
    inj, rev = pairs(s)
    assert inj == rev == [("lat", 1)]
    assert [r.details["reason"] for r in s.journal if r.kind == "revert"] == ["error"]
    assert toxics_left(proxy.url) == {}
    assert median_ping(port) - base < 0.05  # traffic is back to baseline


def test_kill_switch_reverts_and_stops_bursts(proxy: EmbeddedProxy) -> None:  # noqa: F811
    text = profile_text(
        free_port(),
        "{warmup: 0, baseline: 0.3s, burst_on: 3s, burst_off: 0.5s, bursts: 3, cooldown: 0}",
        "  - {name: lat, type: latency, route: redis, latency_ms: 200, stream: both}",
    )
    _profile, s, port = make(proxy, text)
    stopped: list[str] = []
    listener = s.events.chaos_stopped.add_listener(lambda reason: stopped.append(reason))
    try:
        s.start()

        def active() -> bool:
            gevent.sleep(0.02)
            return s.active_faults == ("lat",)

        wait_until(active, timeout=10)
        left = toxics_left(proxy.url)
        assert sorted(left["redis"]) == ["cb_lat_downstream", "cb_lat_upstream"]
        assert kill(s, "test") is True
    finally:
        s.events.chaos_stopped._handlers.remove(listener)
    assert s.finished and s.stop_reason == "kill_switch" and stopped == ["kill_switch"]
    assert toxics_left(proxy.url) == {}
    assert median_ping(port) < 0.05
    assert [r.burst for r in s.journal if r.kind == "inject"] == [1]
    assert kill(s, "again") is False  # nothing runs any more


def test_dry_run_changes_nothing(proxy: EmbeddedProxy) -> None:  # noqa: F811
    text = profile_text(
        free_port(),
        "{warmup: 0, baseline: 0.5s, burst_on: 1s, burst_off: 0.5s, bursts: 2, cooldown: 0}",
        "  - {name: lat, type: latency, route: redis, latency_ms: 200}\n"
        "  - {name: down, type: route_down, route: redis, bursts: [2]}",
        extra="dry_run: true",
    )
    _profile, s, port = make(proxy, text)
    base = median_ping(port)
    traffic = Traffic(port).start()
    saw_toxics: list[dict[str, list[str]]] = []
    try:
        s.start()
        while not s.finished:
            saw_toxics.append(toxics_left(proxy.url))
            gevent.sleep(0.1)
    finally:
        traffic.stop()
    assert saw_toxics and all(t == {} for t in saw_toxics)
    inj, rev = pairs(s)
    assert sorted(inj) == sorted(rev) == [("down", 2), ("lat", 1), ("lat", 2)]
    assert {r.status for r in s.journal if r.kind != "phase"} == {"dry_run"}
    assert all(m.faults == () for m in s.timeline.marks)
    samples = traffic.samples
    assert samples and all(x.ok for x in samples)
    assert median_latency(samples) - base < 0.03


def test_same_seed_same_choices(tmp_path: Path) -> None:
    text = """
seed: 99
dry_run: true
phases: {warmup: 0, baseline: 0.05s, burst_on: 0.05s, burst_off: 0.05s, bursts: 6, cooldown: 0}
rotation: {order: shuffle}
proxy: {routes: {api: {listen: 127.0.0.1:25999, upstream: 127.0.0.1:8000, protocol: http}}}
faults:
  - {scenario: a, name: e429, type: http_error, route: api, status: 429, rate: 0.5}
  - {scenario: b, name: drop, type: ws_drop, route: api, rate: 0.5}
  - {scenario: c, name: lat, type: latency, route: api, latency_ms: 5}
"""

    def run(seed: int | None) -> list[tuple[str, int | None, Any]]:
        s = sched(parse_profile(text, "t.yaml", seed=seed), FaultContext())
        s.run()
        return [
            (r.name, r.burst, r.details.get("attributes", {}).get("seed"))
            for r in s.journal
            if r.kind == "inject"
        ]

    first, second = run(None), run(None)
    assert first == second and len(first) == 6
    assert all(seed is not None for name, _, seed in first if name != "lat")
    others = {tuple(run(s)) for s in (1, 2, 3)}
    assert len(others | {tuple(first)}) > 1


def test_edges_on_schedule_with_a_busy_loop(proxy: EmbeddedProxy) -> None:  # noqa: F811
    """Greenlets that hog the loop in 2 ms slices (a busy Locust process) do not push the edges
    past the margin, and a slow inject does not shift the later edges."""
    text = profile_text(
        free_port(),
        "{warmup: 0.3s, baseline: 0.5s, burst_on: 0.5s, burst_off: 0.5s, bursts: 3, cooldown: 0}",
        "  - {name: lat, type: latency, route: redis, latency_ms: 10}",
    )
    _profile, s, _port = make(proxy, text)
    stop = False

    def hog() -> None:
        import time

        while not stop:
            end = time.perf_counter() + 0.002
            while time.perf_counter() < end:
                pass
            gevent.sleep(0)

    hogs = [gevent.spawn(hog) for _ in range(8)]

    def slow_inject(record: Any) -> None:
        import time

        time.sleep(0.2)  # an inject that takes long (blocks, even)

    listener = s.events.fault_injected.add_listener(slow_inject)
    try:
        s.start()
        s.join(20)
    finally:
        stop = True
        gevent.joinall(hogs, timeout=5)
        s.events.fault_injected._handlers.remove(listener)
    phases = [r for r in s.journal if r.kind == "phase" and r.name != "idle"]
    assert len(phases) == 8
    late = [r.details["late_ms"] for r in phases]
    assert max(late) < EDGE_MARGIN_MS, [
        (r.kind, r.name, round(r.start - s.journal[0].start, 3), r.details.get("late_ms"))
        for r in s.journal
    ]
    assert all(abs(r.start - r.planned) < EDGE_MARGIN_MS / 1000 for r in phases if r.planned)


def test_kill_switch_from_an_event_listener(proxy: EmbeddedProxy) -> None:  # noqa: F811
    """A listener of fault_injected pulls the kill switch (a rollback trigger): no deadlock."""
    text = profile_text(
        free_port(),
        "{warmup: 0, baseline: 0.2s, burst_on: 5s, burst_off: 0.5s, bursts: 3, cooldown: 0}",
        "  - {name: lat, type: latency, route: redis, latency_ms: 100}",
    )
    _profile, s, _port = make(proxy, text)
    listener = s.events.fault_injected.add_listener(lambda record: kill(s, "trigger"))
    t0 = time.monotonic()
    try:
        s.start()
        wait_until(lambda: gevent.sleep(0.02) or s.done, timeout=8)
    finally:
        s.events.fault_injected._handlers.remove(listener)
    assert time.monotonic() - t0 < 4
    assert s.stop_reason == "kill_switch" and s.error == "kill switch: trigger"
    inj, rev = pairs(s)
    assert inj == rev == [("lat", 1)]
    assert toxics_left(proxy.url) == {}


def test_journal_keeps_what_the_fault_did_after_inject_and_revert() -> None:
    """The records carry the fault's own account (describe()) taken after the action: here the
    skew the clock_skew fault applied, and none after its revert."""
    text = """
seed: 1
phases: {warmup: 0, baseline: 0.05s, burst_on: 0.1s, burst_off: 0.05s, bursts: 1, cooldown: 0}
faults:
  - {name: skew, type: clock_skew, offset_ms: 1500}
"""
    ctx = FaultContext()
    s = sched(parse_profile(text, "t.yaml"), ctx)
    s.run()
    inject = next(r for r in s.journal if r.kind == "inject")
    revert = next(r for r in s.journal if r.kind == "revert")
    assert inject.status == "ok" and inject.details["skew_s"] == 1.5
    assert revert.status == "ok" and revert.details["reason"] and "skew_s" in revert.details
    assert ctx.state.clock.skew == 0.0
