"""No module of chaosbench holds a run's mutable state: each Locust Environment has its own."""

from __future__ import annotations

import ast
from pathlib import Path

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
