"""Process helpers for the process and host faults: finding the pid, signals, bounded children,
health probes. Everything waits with ``gevent.sleep`` or gevent's subprocess, never blocking.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import gevent
from gevent import subprocess as gsubprocess

from chaosbench.chaos.ledger import process_alive, process_start_time
from chaosbench.ground.errors import FaultError
from chaosbench.ground.translate import error_line

#: The code of a bounded child process: a CPU burner (duty cycle) or a memory balloon. It stops
#: by itself after ``max_s`` seconds or as soon as its parent (the harness) is gone.
CHILD_CODE = r"""
import os, sys, time
mode, amount, max_s, ppid = sys.argv[1], float(sys.argv[2]), float(sys.argv[3]), int(sys.argv[4])
end = time.monotonic() + max_s
alive = lambda: time.monotonic() < end and os.getppid() == ppid
if mode == "mem":
    buf = bytearray(b"\x01") * int(amount)
    print("ready", len(buf), flush=True)
    while alive():
        time.sleep(0.1)
else:
    print("ready", flush=True)
    period = 0.05
    busy = period * amount
    while alive():
        t = time.monotonic()
        while time.monotonic() - t < busy:
            pass
        if period > busy:
            time.sleep(period - busy)
"""


def resolve_pid(
    pid: int | None, pidfile: str | None, resource: str | None, resources: dict[str, Any]
) -> int:
    """The pid named by exactly one of ``pid``, ``pidfile`` or ``resource`` (FaultError else)."""
    if resource is not None:
        res = resources.get(resource)
        if res is None:
            raise FaultError(f"no resource {resource!r} (known: {sorted(resources)})")
        if isinstance(res, int):
            pid = res
        elif isinstance(res, dict) and res.get("pid") is not None:
            pid = int(res["pid"])
        elif isinstance(res, dict) and res.get("pidfile"):
            pidfile = str(res["pidfile"])
        else:
            raise FaultError(f"resource {resource!r} has no pid or pidfile")
    if pid is None and pidfile is not None:
        try:
            pid = int(Path(pidfile).read_text().split()[0])
        except (OSError, ValueError, IndexError) as exc:
            raise FaultError(f"pidfile {pidfile}: {error_line(exc)}") from None
    if pid is None:
        raise FaultError("no pid, pidfile or resource given")
    if pid <= 1 or pid in (os.getpid(), os.getppid()):
        raise FaultError(f"refusing to signal pid {pid} (init or the harness itself)")
    if process_start_time(pid) is None:
        raise FaultError(f"no process with pid {pid}")
    return pid


def send(pid: int, sig: signal.Signals, start: int | None) -> bool:
    """Send ``sig`` to ``pid`` if it is still the process that started at ``start``."""
    if not process_alive(pid, start):
        return False
    try:
        os.kill(pid, sig)
    except ProcessLookupError:
        return False
    except PermissionError:
        raise FaultError(f"not allowed to signal pid {pid}") from None
    return True


def proc_state(pid: int) -> str:
    """The one-letter state of ``pid`` (``T`` stopped, ``Z`` zombie, ...); empty when gone."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    return raw[raw.rfind(")") + 2 :].split()[0]


def wait_stopped(pid: int, stopped: bool, timeout: float = 2.0) -> bool:
    """Wait until ``pid`` is stopped (or running again): signals are delivered asynchronously."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        st = proc_state(pid)
        if not st or (st in "Tt") == stopped:
            return True
        gevent.sleep(0.005)
    return False


def wait_gone(pid: int, start: int | None, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not process_alive(pid, start):
            return True
        gevent.sleep(0.02)
    return not process_alive(pid, start)


def spawn_child(mode: str, amount: float, max_s: float) -> gsubprocess.Popen:
    """Start a bounded child (``mode`` ``cpu`` or ``mem``) and wait until it is ready."""
    proc = gsubprocess.Popen(
        [sys.executable, "-c", CHILD_CODE, mode, repr(amount), repr(max_s), str(os.getpid())],
        stdout=gsubprocess.PIPE,
        stdin=gsubprocess.DEVNULL,
    )
    assert proc.stdout is not None
    with gevent.Timeout(30, False):
        line = proc.stdout.readline()
        if line.startswith(b"ready"):
            return proc
    kill_child(proc)
    raise FaultError(f"{mode} child process did not start")


def kill_child(proc: gsubprocess.Popen) -> None:
    if proc.poll() is None:
        proc.kill()
    with gevent.Timeout(10, False):
        proc.wait()
    if proc.stdout is not None:
        proc.stdout.close()


def rss_bytes(pid: int) -> int:
    """Resident memory of ``pid`` (0 when gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def answers(health_url: str | None, health_addr: str | None, timeout: float = 1.0) -> bool:
    """The service answers: a 2xx on ``health_url``, or a TCP connect to ``health_addr``."""
    if health_url:
        try:
            with urllib.request.urlopen(health_url, timeout=timeout) as resp:
                return 200 <= int(resp.status) < 300
        except (urllib.error.URLError, OSError, ValueError):
            return False
    if health_addr:
        host, _, port = health_addr.rpartition(":")
        try:
            with socket.create_connection((host, int(port)), timeout=timeout):
                return True
        except (OSError, ValueError):
            return False
    return True
