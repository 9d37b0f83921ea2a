"""Process faults on real child processes (a small HTTP server): SIGSTOP/SIGCONT, kill and
restart with the RTO, by a resource the harness started or by a pair of shell commands."""

from __future__ import annotations

import os
import random
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import gevent
import pydantic
import pytest

from chaosbench.chaos.faults import FaultContext, catalogue
from chaosbench.chaos.faults._proc import answers
from chaosbench.chaos.faults.base import Fault
from chaosbench.chaos.ledger import Ledger, process_alive, process_start_time, revert_leftovers
from chaosbench.ground.errors import FaultError
from tests.conftest import PYTHON, Proc, free_port, wait_until


def gwait(cond: Callable[[], object], timeout: float = 15.0) -> object:
    """Poll with gevent.sleep, so that the faults' greenlets run while waiting."""
    return wait_until(cond, timeout, sleep=gevent.sleep)


def make(
    type_name: str,
    intensity: float = 1.0,
    ledger: Ledger | None = None,
    resources: dict[str, Any] | None = None,
    **settings: Any,
) -> Fault[Any]:
    cls = catalogue()[type_name]
    ctx = FaultContext(rng=random.Random(5), ledger=ledger, resources=resources or {})
    return cls(f"t-{type_name}", cls.Settings(**settings), ctx, intensity)


def server_argv(port: int) -> list[str]:
    return [PYTHON, "-m", "http.server", str(port), "--bind", "127.0.0.1"]


@pytest.fixture
def web(spawn: Callable[..., Proc]) -> tuple[Proc, str]:
    port = free_port()
    proc = spawn(server_argv(port), name="web")
    url = f"http://127.0.0.1:{port}/"
    gwait(lambda: answers(url, None))
    return proc, url


def state(pid: int) -> str:
    raw = Path(f"/proc/{pid}/stat").read_text()
    return raw[raw.rfind(")") + 2 :].split()[0]


# -- process_stop -------------------------------------------------------------------------------
def test_stop_freezes_until_revert(web: tuple[Proc, str], tmp_path: Path) -> None:
    proc, url = web
    ledger = Ledger(tmp_path / "ledger.json")
    fault = make("process_stop", ledger=ledger, pid=proc.popen.pid)
    assert fault.persistent and fault.targets() == ["127.0.0.1"]
    fault.inject()
    try:
        assert state(proc.popen.pid) == "T"
        assert not answers(url, None, timeout=0.3)  # frozen: accepted by the kernel, no answer
        (entry,) = ledger.entries()
        assert entry.undo["pid"] == proc.popen.pid
    finally:
        fault.revert()
    assert state(proc.popen.pid) != "T"
    assert answers(url, None, timeout=5)
    assert ledger.entries() == []
    fault.revert()  # idempotent


def test_short_pause_continues_by_itself(web: tuple[Proc, str]) -> None:
    proc, url = web
    fault = make("process_stop", 0.5, pid=proc.popen.pid, pause_ms=600)  # 300 ms
    fault.inject()
    try:
        gwait(lambda: state(proc.popen.pid) == "T", timeout=2)
        gwait(lambda: state(proc.popen.pid) != "T", timeout=5)
    finally:
        fault.revert()
    assert fault.describe()["pauses"] == 1
    assert answers(url, None, timeout=5)


def test_stopped_process_left_by_a_dead_harness_is_continued(
    web: tuple[Proc, str], tmp_path: Path
) -> None:
    proc, url = web
    path = tmp_path / "ledger.json"
    fault = make("process_stop", ledger=Ledger(path), pid=proc.popen.pid)
    fault.inject()  # and then the harness "dies": no revert
    assert state(proc.popen.pid) == "T"
    lines = revert_leftovers(path, force=True)  # force: the writer (this process) still runs
    assert lines == [
        f"reverted process_stop 't-process_stop': sent SIGCONT to pid {proc.popen.pid}"
    ]
    assert answers(url, None, timeout=5)


def test_stop_refuses_the_harness_itself_and_bad_settings() -> None:
    # refused at validation (the profile never starts), not at inject time
    with pytest.raises(pydantic.ValidationError, match="is the harness itself"):
        make("process_stop", pid=os.getpid())
    with pytest.raises(pydantic.ValidationError, match="at most 4194304"):
        make("process_stop", pid=2**22 + 12345)
    free = next(p for p in range(2**22 - 1, 2**21, -1) if not os.path.exists(f"/proc/{p}"))
    with pytest.raises(FaultError, match="no process with pid"):
        make("process_stop", pid=free).inject()
    with pytest.raises(pydantic.ValidationError, match="exactly one of pid, pidfile, resource"):
        make("process_stop", pid=5, pidfile="/x")
    with pytest.raises(FaultError, match="no resource 'sut'"):
        make("process_stop", resource="sut").inject()


# -- process_restart ----------------------------------------------------------------------------
@pytest.fixture
def reap() -> Iterator[list[int]]:
    pids: list[int] = []
    yield pids
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def test_restart_local_resource_records_rto(
    web: tuple[Proc, str], tmp_path: Path, reap: list[int]
) -> None:
    proc, url = web
    port = url.rsplit(":", 1)[1].strip("/")
    old = proc.popen.pid
    resources: dict[str, Any] = {
        "web": {"pid": old, "argv": server_argv(int(port)), "log": str(tmp_path / "web.log")}
    }
    fault = make("process_restart", resources=resources, resource="web", health_url=url)
    assert "127.0.0.1:" + port in fault.targets()
    fault.inject()
    try:
        assert not process_alive(old, None) or proc.popen.poll() is not None
        gwait(lambda: fault.describe()["rto_s"] is not None)
    finally:
        fault.revert()
        if resources["web"]["pid"] != old:
            reap.append(resources["web"]["pid"])
    d = fault.describe()
    assert d["old_pid"] == old and d["new_pid"] == resources["web"]["pid"] != old
    assert 0 < d["rto_s"] < 15 and d["error"] is None
    assert answers(url, None, timeout=5)


def test_restart_down_time_ends_early_at_revert(web: tuple[Proc, str], reap: list[int]) -> None:
    proc, url = web
    port = int(url.rsplit(":", 1)[1].strip("/"))
    resources: dict[str, Any] = {"web": {"pid": proc.popen.pid, "argv": server_argv(port)}}
    fault = make(
        "process_restart",
        resources=resources,
        resource="web",
        health_addr=f"127.0.0.1:{port}",
        signal="TERM",
        down_ms=60_000,
    )
    fault.inject()
    try:
        assert not answers(None, f"127.0.0.1:{port}")  # down for the burst
    finally:
        t0 = time.monotonic()
        fault.revert()  # starts it now, waits until it answers
        reap.append(resources["web"]["pid"])
    assert time.monotonic() - t0 < 15
    assert answers(None, f"127.0.0.1:{port}")
    assert fault.describe()["rto_s"] is not None


def test_restart_by_commands_and_leftover_after_a_crash(tmp_path: Path, reap: list[int]) -> None:
    port = free_port()
    pidfile = tmp_path / "web.pid"
    start = f"{PYTHON} -m http.server {port} --bind 127.0.0.1 >/dev/null 2>&1 & echo $! > {pidfile}"
    stop = f"kill $(cat {pidfile})"
    url = f"http://127.0.0.1:{port}/"
    try:
        os.system(start)  # the service, started outside the harness
        gwait(lambda: answers(url, None))
        path = tmp_path / "ledger.json"
        fault = make(
            "process_restart",
            ledger=Ledger(path),
            stop_cmd=stop,
            start_cmd=start,
            health_url=url,
            down_ms=60_000,
        )
        fault.inject()
        assert Ledger(path).entries()[0].undo["start_cmd"] == start
        gwait(lambda: not answers(url, None))
        fault._restarter.kill()  # type: ignore[attr-defined]  # the harness dies while it is down
        lines = revert_leftovers(path, force=True)
        assert lines and lines[0].startswith("reverted process_restart 't-process_restart': ran")
        gwait(lambda: answers(url, None))
        assert not path.exists()
    finally:
        if pidfile.exists():
            reap.append(int(pidfile.read_text().split()[0]))


def test_restart_settings_are_checked() -> None:
    with pytest.raises(pydantic.ValidationError, match="either resource, or restart_cmd"):
        make("process_restart", resource="a", restart_cmd="true")
    with pytest.raises(pydantic.ValidationError, match="stop_cmd needs start_cmd"):
        make("process_restart", stop_cmd="true")
    with pytest.raises(pydantic.ValidationError, match="host:port"):
        make("process_restart", restart_cmd="true", health_addr="nope")


def test_failing_restart_command_is_reported(tmp_path: Path) -> None:
    fault = make("process_restart", restart_cmd="echo broken >&2; exit 3", rto_timeout_s=1)
    fault.inject()
    with pytest.raises(FaultError, match="exited 3: broken"):
        fault.revert()
    assert process_start_time(os.getpid()) is not None
