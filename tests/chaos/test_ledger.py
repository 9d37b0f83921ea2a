"""The ledger: entries written before a persistent change, removed after revert, and reverted by
``revert_leftovers`` after the harness was killed (kill -9 with Redis memory pressure active)."""

from __future__ import annotations

import json
import os
import random
import signal
import stat
import subprocess
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from chaosbench.chaos.faults import FaultContext, catalogue
from chaosbench.chaos.faults.base import Fault
from chaosbench.chaos.ledger import (
    Ledger,
    default_ledger_path,
    revert_leftovers,
    revert_leftovers_at_start,
)
from chaosbench.ground.errors import FaultError
from tests.conftest import PYTHON, ROOT, Proc, wait_until


def make(type_name: str, ledger: Ledger | None, **settings: Any) -> Fault[Any]:
    cls = catalogue()[type_name]
    ctx = FaultContext(rng=random.Random(1), ledger=ledger)
    return cls(f"t-{type_name}", cls.Settings(**settings), ctx, 1.0)


def test_record_update_remove_roundtrip(tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "sub" / "ledger.json")
    fault = make("clock_skew", ledger, offset_ms=100)
    ledger.record(fault)  # the scheduler's call, before inject
    ledger.record(fault, {"a": 1})  # the fault's own, once it knows its undo state
    ledger.record(fault, {"b": 2})
    (entry,) = ledger.entries()
    assert entry.type == "clock_skew" and entry.name == "t-clock_skew"
    assert entry.undo == {"a": 1, "b": 2}
    assert entry.settings == {"offset_ms": 100.0} and entry.pid == os.getpid()
    doc = json.loads(ledger.path.read_text())
    assert doc["version"] == 1
    ledger.remove(fault)
    assert ledger.entries() == [] and not ledger.path.exists()
    ledger.remove(fault)  # nothing to remove: fine


def test_default_path_from_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CHAOSBENCH_LEDGER", str(tmp_path / "x.json"))
    assert default_ledger_path() == tmp_path / "x.json"
    monkeypatch.delenv("CHAOSBENCH_LEDGER")
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    assert default_ledger_path() == tmp_path / "state" / "chaosbench" / "ledger.json"
    monkeypatch.setenv("XDG_STATE_HOME", "relative/state")  # not absolute: ignored (XDG spec)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_ledger_path() == tmp_path / "home/.local/state/chaosbench/ledger.json"
    monkeypatch.delenv("XDG_STATE_HOME")
    assert default_ledger_path() == tmp_path / "home/.local/state/chaosbench/ledger.json"


def test_damaged_ledger_is_a_one_line_error(tmp_path: Path) -> None:
    path = tmp_path / "ledger.json"
    path.write_text("{not json")
    with pytest.raises(FaultError, match=r"ledger\.json: unreadable ledger"):
        revert_leftovers(path)
    path.write_text(json.dumps({"version": 1, "entries": [{"type": "x"}]}))
    with pytest.raises(FaultError, match=r"entry 0: malformed ledger entry"):
        Ledger(path).entries()


def write_entries(path: Path, entries: list[dict[str, Any]]) -> None:
    path.write_text(json.dumps({"version": 1, "entries": entries}))


def test_leftovers_of_a_live_harness_are_left_alone_unless_forced(tmp_path: Path) -> None:
    path = tmp_path / "ledger.json"
    parent = os.getppid()  # alive, and not this process
    entry = {"key": f"{parent}:s", "type": "clock_skew", "name": "s", "pid": parent}
    write_entries(path, [entry])
    (line,) = revert_leftovers(path)
    assert line.startswith("left clock_skew 's'") and len(Ledger(path).entries()) == 1
    (line,) = revert_leftovers(path, force=True)
    assert line == "reverted clock_skew 's'"  # rebuilt from its settings, revert() called
    assert not path.exists()


def test_failed_revert_keeps_the_entry(tmp_path: Path) -> None:
    path = tmp_path / "ledger.json"
    write_entries(
        path,
        [
            {"key": "1:a", "type": "no_such_fault", "name": "a", "pid": 999_999_999},
            {
                "key": "1:b",
                "type": "redis_memory_pressure",
                "name": "b",
                "pid": 999_999_999,
                "undo": {"url": "redis://127.0.0.1:1/0", "maxmemory": 0, "policy": "noeviction"},
            },
        ],
    )
    lines = revert_leftovers(path)
    assert lines[0] == "failed no_such_fault 'a': ledger entry 1:a: unknown fault type " + repr(
        "no_such_fault"
    )
    assert lines[1].startswith("failed redis_memory_pressure 'b': Redis 127.0.0.1:1:")
    assert [e.key for e in Ledger(path).entries()] == ["1:a", "1:b"]


INJECTOR = textwrap.dedent(
    """
    import sys, time
    from chaosbench.chaos.faults import FaultContext, catalogue
    from chaosbench.chaos.ledger import Ledger, default_ledger_path
    cls = catalogue()["redis_memory_pressure"]
    fault = cls("mem", cls.Settings(url=sys.argv[2], prefix=sys.argv[3], headroom_mb=1),
                FaultContext(ledger=Ledger(sys.argv[1] or default_ledger_path())), 1.0)
    fault.inject()
    print("injected", fault.describe()["oom"], flush=True)
    time.sleep(60)
    """
)


@pytest.fixture
def original_memory(redis_url: str) -> Iterator[tuple[redis.Redis, int, str]]:
    r = redis.Redis.from_url(redis_url, client_name="cbt-ledger-test")
    maxmemory = int(r.config_get("maxmemory")["maxmemory"])
    policy = str(r.config_get("maxmemory-policy")["maxmemory-policy"])
    try:
        yield r, maxmemory, policy
    finally:
        r.config_set("maxmemory", maxmemory)
        r.config_set("maxmemory-policy", policy)
        r.close()


def test_kill_9_with_memory_pressure_then_revert_leftovers(
    redis_url: str,
    key_prefix: str,
    tmp_path: Path,
    spawn: Callable[..., Proc],
    original_memory: tuple[redis.Redis, int, str],
) -> None:
    r, maxmemory, policy = original_memory
    path = tmp_path / "ledger.json"
    harness = spawn(
        [PYTHON, "-c", INJECTOR, str(path), redis_url, f"{key_prefix}:fill:"], name="harness"
    )
    try:
        wait_until(lambda: "injected True" in harness.output(), timeout=30)
        assert int(r.config_get("maxmemory")["maxmemory"]) != maxmemory
    finally:
        harness.popen.send_signal(signal.SIGKILL)  # no revert, no finally: the ledger stays
        harness.popen.wait(10)
        lines = revert_leftovers(path)  # what a new start, or `make reset`, does
    assert len(lines) == 1, lines
    assert lines[0].startswith(
        f"reverted redis_memory_pressure 'mem' on 127.0.0.1:6379: maxmemory {maxmemory}"
    )
    assert int(r.config_get("maxmemory")["maxmemory"]) == maxmemory
    assert r.config_get("maxmemory-policy")["maxmemory-policy"] == policy
    assert list(r.scan_iter(match=f"{key_prefix}:*")) == []
    assert not path.exists()
    assert revert_leftovers(path) == []  # nothing left


def test_kill_9_then_reset_from_another_folder_with_the_machine_ledger(
    redis_url: str,
    key_prefix: str,
    tmp_path: Path,
    spawn: Callable[..., Proc],
    original_memory: tuple[redis.Redis, int, str],
) -> None:
    """No CHAOSBENCH_LEDGER: the harness (in folder a) and the reset (in folder b) find the same
    ledger under $XDG_STATE_HOME, 0600 in a 0700 folder."""
    r, maxmemory, _policy = original_memory
    env = {k: v for k, v in os.environ.items() if k != "CHAOSBENCH_LEDGER"}
    # empty: not set (spawn() starts from the test session's environment, which has its own)
    env.update(CHAOSBENCH_LEDGER="", XDG_STATE_HOME=str(tmp_path / "state"), PYTHONPATH=str(ROOT))
    here, there = tmp_path / "a", tmp_path / "b"
    here.mkdir()
    there.mkdir()
    harness = spawn(
        [PYTHON, "-c", f"import os; os.chdir({str(here)!r})\n" + INJECTOR, "", redis_url,
         f"{key_prefix}:fill:"],
        env=env, name="harness",
    )  # fmt: skip
    try:
        wait_until(lambda: "injected True" in harness.output(), timeout=30)
    finally:
        harness.popen.send_signal(signal.SIGKILL)
        harness.popen.wait(10)
    path = tmp_path / "state" / "chaosbench" / "ledger.json"
    assert path.is_file() and not (here / ".chaosbench").exists()
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert "redis://" in path.read_text()  # it holds the URL to revert: hence 0600
    out = subprocess.run(
        [PYTHON, "-m", "chaosbench.cli", "reset"],
        cwd=there, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert f"reverted redis_memory_pressure 'mem' on 127.0.0.1:6379: maxmemory {maxmemory}" in (
        out.stdout
    ), out.stdout
    assert int(r.config_get("maxmemory")["maxmemory"]) == maxmemory
    assert list(r.scan_iter(match=f"{key_prefix}:*")) == []
    assert not path.exists()
    again = subprocess.run(
        [PYTHON, "-m", "chaosbench.cli", "reset"],
        cwd=here, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert again.returncode == 0 and f"ledger {path}: nothing to revert" in again.stdout


def test_a_legacy_folder_ledger_is_merged_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    legacy = tmp_path / ".chaosbench" / "ledger.json"
    legacy.parent.mkdir()
    entry = {"key": "999999999:s", "type": "clock_skew", "name": "s", "pid": 999_999_999}
    write_entries(legacy, [entry])
    machine = tmp_path / "state" / "ledger.json"
    lines = revert_leftovers_at_start(machine)
    assert lines[0] == (
        f"chaos ledger {machine}: merged the legacy ledger {legacy} into {machine} "
        "(1 of 1 entries new)"
    )
    assert lines[1] == f"chaos ledger {machine}: reverted clock_skew 's'"
    assert not legacy.exists() and not machine.exists()
    assert revert_leftovers_at_start(machine) == []


def test_start_never_raises_on_a_damaged_ledger(tmp_path: Path) -> None:
    path = tmp_path / "ledger.json"
    path.write_text("{not json")
    (line,) = revert_leftovers_at_start(path)
    assert line.startswith(f"failed ledger {path}: {path}: unreadable ledger")


def test_concurrent_writers_lose_no_entry(tmp_path: Path) -> None:
    """Two processes recording into one ledger (as two harnesses of a user do) keep both."""
    path = tmp_path / "ledger.json"
    code = textwrap.dedent(
        """
        import sys
        from chaosbench.chaos.faults import FaultContext, catalogue
        from chaosbench.chaos.ledger import Ledger
        cls = catalogue()["clock_skew"]
        ledger = Ledger(sys.argv[1])
        for i in range(40):
            ledger.record(cls(f"f{i}", cls.Settings(offset_ms=1), FaultContext(), 1.0))
        """
    )
    procs = [subprocess.Popen([PYTHON, "-c", code, str(path)], cwd=ROOT) for _ in range(2)]
    assert [p.wait(60) for p in procs] == [0, 0]
    assert len(Ledger(path).entries()) == 80
