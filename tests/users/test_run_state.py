"""No module of chaosbench holds a run's mutable state: each Locust Environment has its own."""

from __future__ import annotations

import ast
import socket
from pathlib import Path

import pytest

from chaosbench.ground.integrity import CountersReport, IntegrityCounters, merge
from chaosbench.ground.switches import DnsFailureSwitch, FaultSwitches, SwitchSnapshot
from tests.conftest import ROOT
from tests.users.conftest import run_script

RUN_STATE_TYPES = {
    "PhaseTimeline", "ChaosEvents", "IntegrityCounters", "FaultSwitches", "ClientClock",
    "RunState", "KillSwitch", "ExitHandlers", "Harness", "RecordingSession", "Recorder",
    "Console", "Random",
}  # fmt: skip
PACKAGES = ("ground", "wiring", "users", "chaos/safety", "analysis/recording")


def test_two_environments_do_not_share_a_run() -> None:
    r = run_script("two_envs")
    assert r["harness_once"] and r["state_is_harness_state"] and r["library_state"]
    assert r["states_differ"] and r["parts_differ"]
    assert r["env1"] == {"pg_delay": 0.5, "skew": 3.0}
    assert r["env2"] == {"pg_delay": 0.0, "skew": 0.0, "acked": 0}
    assert r["phases"]["env1"][:2] == ["baseline", "burst1"] and r["phases"]["env2"] == []
    assert r["marks"]["env1"] > 0 and r["marks"]["env2"] == 0
    assert r["armed_only_env1"] and r["kill_env2"] is False
    assert r["skews_after"] == [0.0, 0.0]


def _module_state(path: Path) -> list[str]:
    """``global`` statements, and module-level instances of the run's state types."""
    tree = ast.parse(path.read_text(), str(path))
    found = [f"{path.name}:{n.lineno}: global" for n in ast.walk(tree) if isinstance(n, ast.Global)]
    for node in tree.body:
        value = node.value if isinstance(node, ast.Assign | ast.AnnAssign) else None
        if isinstance(value, ast.Call):
            fn = value.func
            name = fn.attr if isinstance(fn, ast.Attribute) else getattr(fn, "id", "")
            if name in RUN_STATE_TYPES:
                found.append(f"{path.name}:{node.lineno}: module-level {name}()")
    return found


def test_no_module_level_run_state() -> None:
    found: list[str] = []
    for pkg in PACKAGES:
        for path in sorted((ROOT / "chaosbench" / pkg).rglob("*.py")):
            found += _module_state(path)
    found += _module_state(ROOT / "chaosbench" / "chaos" / "scheduler.py")
    found += _module_state(ROOT / "chaosbench" / "harness.py")
    assert found == []


def test_worker_reports_and_the_merge_on_the_master() -> None:
    worker = IntegrityCounters()
    worker.order_acknowledged("o1", "c1")
    worker.ws_stream(messages=5, gaps=1)
    first = CountersReport.from_dict(worker.report(0).to_dict())  # through a message
    sent = len(worker.acked_orders)
    worker.order_acknowledged("o2", "c2")
    worker.ws_stream(messages=3)
    second = CountersReport.from_dict(worker.report(sent).to_dict())
    assert first.acked == [("o1", "c1")] and second.acked == [("o2", "c2")]  # only the new ones
    on_master = IntegrityCounters()
    on_master.absorb(first)
    on_master.absorb(second)
    assert on_master.acked_orders == {"o1": "c1", "o2": "c2"}
    assert on_master.ws_messages == 8 and on_master.ws_gaps == 1  # totals, not added twice
    other = IntegrityCounters(acked_orders={"o2": "c2", "o3": "c3"}, ws_messages=4)
    own = IntegrityCounters()
    own.canary_applied("o3", "delete")
    all_ = merge([own, on_master, other])
    assert sorted(all_.acked_orders) == ["o1", "o2", "o3"]  # united by order id
    assert all_.ws_messages == 12 and all_.canary_orders == {"o3"}


def test_switches_travel_and_apply() -> None:
    master, worker = FaultSwitches(), FaultSwitches()
    master.set_pg_slow(1.0, 0.3, seed=5)
    master.set_clock_skew(-2.0)
    snap = SwitchSnapshot.from_dict(master.snapshot().to_dict())
    assert snap == master.snapshot()
    worker.apply(snap)
    assert worker.pg_slow_delay() == 0.3 and worker.clock.skew == -2.0
    original = socket.getaddrinfo
    dns = DnsFailureSwitch(share=1.0, hosts=("db.example",), match="names", seed=1)
    master.set_dns_failure(dns)
    try:
        worker.apply(SwitchSnapshot.from_dict(master.snapshot().to_dict()))
    finally:
        master.set_dns_failure(None)
    try:
        with pytest.raises(socket.gaierror, match="chaosbench dns_failure"):
            socket.getaddrinfo("db.example", 80)
        assert socket.getaddrinfo("127.0.0.1", 80)
        assert worker.dns_failed == 1
    finally:
        worker.apply(SwitchSnapshot())  # the master cleared everything
    assert socket.getaddrinfo is original
    assert worker.pg_slow_delay() == 0.0 and worker.clock.skew == 0.0
