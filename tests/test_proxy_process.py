"""The fault proxy as the harness's child process (``--chaos-proxy process``, the default), with
real ``locust`` processes and a short profile: the child is stopped on every exit path (the end
of the profile, SIGINT, SIGTERM, a start refused after the proxy started, an error in another
init listener, SIGKILL of the harness): its pid is gone and its API port is free. A child that
dies mid-run makes the run unjudgeable (exit 2, one line, a verdict note). ``embedded`` still
runs the proxy in the harness's own process.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from chaosbench.ground.errors import ProxyError
from chaosbench.proxy import ToxiproxyClient
from chaosbench.proxy.child import ProxyProcess
from tests.conftest import PYTHON, ROOT, free_port, port_open, wait_until
from tests.test_exit_paths import BOOT, LOCUSTFILE, Run, chaos_lines

pytestmark = pytest.mark.slow

CHILD = re.compile(r"fault proxy process pid (\d+), API")


def pid_gone(pid: int) -> bool:
    """No such process, or only its zombie (nothing runs, nothing listens)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] in ("Z", "X")


class Harness(Run):
    """One ``locust`` run of the chaos locustfile with its route, API port and log file."""

    def __init__(
        self,
        tmp: Path,
        name: str,
        *extra: str,
        burst: str = "60s",
        api: int | None = None,
        locustfile: str = LOCUSTFILE,
    ) -> None:
        self.tmp = tmp
        self.route, self.api = free_port(), api or free_port()
        profile = tmp / f"{name}.yaml"
        profile.write_text(
            f"""seed: 5
phases: {{warmup: 0.3s, baseline: 0.3s, burst_on: {burst}, burst_off: 0.3s, bursts: 1,
         cooldown: 0}}
proxy:
  routes:
    redis: {{listen: 127.0.0.1:{self.route}, upstream: 127.0.0.1:6379}}
faults:
  - {{name: lat, type: latency, route: redis, latency_ms: 5}}
"""
        )
        self.run_dir = tmp / "runs" / name
        cmd = [PYTHON, "-c", BOOT, PYTHON, "-m", "locust", "-f", locustfile, "--headless",
               "-u", "2", "-r", "2", "--only-summary", "--chaos-profile", str(profile),
               "--results-dir", str(tmp / "runs"), "--run-id", name, "--sut-pg-dsn", "none",
               "--chaos-proxy-api", f"127.0.0.1:{self.api}", *extra]  # fmt: skip
        env = {"CB_TEST_PORT": str(self.route), "CHAOSBENCH_LEDGER": str(tmp / "ledger.json")}
        super().__init__(cmd, tmp / f"{name}.log", env, ROOT)

    def child_pid(self) -> int:
        """The proxy child's pid, from the harness's log line (waits for it)."""
        found: list[int] = []

        def logged() -> bool:
            assert self.popen.poll() is None, self.output()[-3000:]
            m = CHILD.search(self.output())
            if m:
                found.append(int(m.group(1)))
            return bool(found)

        wait_until(logged, timeout=60, interval=0.05)
        return found[0]

    def wait_injected(self) -> None:
        client = ToxiproxyClient(f"http://127.0.0.1:{self.api}", timeout=1)

        def injected() -> bool:
            assert self.popen.poll() is None, self.output()[-3000:]
            try:
                return bool(client.toxics("redis"))
            except Exception:
                return False

        wait_until(injected, timeout=60, interval=0.05)

    def assert_child_stopped(self, pid: int) -> None:
        wait_until(lambda: pid_gone(pid), timeout=30, interval=0.05)
        wait_until(lambda: not port_open(self.api), timeout=30, interval=0.05)


@pytest.fixture
def harnesses() -> Iterator[list[Run]]:
    started: list[Run] = []
    yield started
    for h in started:
        h.kill()


def test_the_child_ends_with_the_profile(tmp_path: Path, harnesses: list[Run]) -> None:
    h = Harness(tmp_path, "normal", burst="1s")
    harnesses.append(h)
    pid = h.child_pid()
    assert not pid_gone(pid) and port_open(h.api)
    code = h.wait(90)
    log = h.output()
    assert "chaos profile finished: quitting" in log, log[-3000:]
    assert code in (0, 1, 2) and "chaosbench verdict:" in log, log[-3000:]
    assert "Traceback" not in log
    h.assert_child_stopped(pid)
    journal = [json.loads(ln) for ln in (h.run_dir / "journal.jsonl").read_text().splitlines()]
    assert [(r["kind"], r["status"]) for r in journal if r["kind"] != "phase"] == [
        ("inject", "ok"),
        ("revert", "ok"),
    ]


def test_signals_and_sigkill_stop_the_child(tmp_path: Path, harnesses: list[Run]) -> None:
    """Three runs at once, each mid-burst: SIGINT and SIGTERM revert through the child (still
    there), then stop it; SIGKILL of the harness takes the child along (pipe EOF, pdeathsig)."""
    runs = {sig: Harness(tmp_path, sig) for sig in ("SIGINT", "SIGTERM", "SIGKILL")}
    harnesses.extend(runs.values())
    pids = {sig: h.child_pid() for sig, h in runs.items()}
    for h in runs.values():
        h.wait_injected()
    for sig, h in runs.items():
        h.popen.send_signal(getattr(signal, sig))
    killed = runs.pop("SIGKILL")
    assert killed.wait(30) == -signal.SIGKILL
    killed.assert_child_stopped(pids["SIGKILL"])
    ledger = tmp_path / "ledger.json"  # its toxics died with it: no ledger entry to revert
    assert not ledger.exists() or "latency" not in ledger.read_text()
    for sig, h in runs.items():
        code = h.wait(60)
        log = h.output()
        assert code == 2, log[-3000:]
        assert "Traceback" not in log, log[-3000:]
        assert chaos_lines(log) == [
            f"chaosbench: interrupted by {sig}: faults reverted, the run is incomplete "
            f"(exit 2; report in {h.run_dir})"
        ], log[-3000:]
        journal = [json.loads(ln) for ln in (h.run_dir / "journal.jsonl").read_text().splitlines()]
        reverts = [r for r in journal if r["kind"] == "revert"]
        assert [r["status"] for r in reverts] == ["ok"], journal  # the child was still there
        h.assert_child_stopped(pids[sig])


def test_a_start_refused_after_the_proxy_started_stops_it(
    tmp_path: Path, harnesses: list[Run]
) -> None:
    """The results half refuses the start at init (a gate file that is not there) after the
    chaos half started the proxy: it exits at once (Locust's quitting never fires), and the
    child is stopped anyway."""
    missing = tmp_path / "no-such-gate.yaml"
    h = Harness(tmp_path, "refused", "--gate", str(missing))
    harnesses.append(h)
    code = h.wait(60)
    log = h.output()
    assert code == 2, log[-3000:]
    lines = chaos_lines(log)
    assert len(lines) == 1 and str(missing) in lines[0], log[-3000:]
    assert "Traceback" not in log and "Ramping" not in log
    pid = int(CHILD.search(log).group(1))  # type: ignore[union-attr]  # it had started
    h.assert_child_stopped(pid)


def test_an_exception_in_init_stops_the_child(tmp_path: Path, harnesses: list[Run]) -> None:
    """An init listener after the harness's raises (Locust logs it and runs on): the child is
    stopped at the end like on any other run."""
    locustfile = str(ROOT / "tests" / "proxy" / "init_error_locustfile.py")
    h = Harness(tmp_path, "initerror", burst="1s", locustfile=locustfile)
    harnesses.append(h)
    pid = h.child_pid()
    code = h.wait(60)
    log = h.output()
    assert "an init listener failed on purpose" in log, log[-3000:]
    assert code in (1, 2), log[-3000:]  # Locust: an unhandled exception in a listener
    h.assert_child_stopped(pid)


def test_a_child_dead_mid_run_makes_the_run_unjudgeable(
    tmp_path: Path, harnesses: list[Run]
) -> None:
    h = Harness(tmp_path, "died", "-t", "6s", burst="4s")  # -t: not shorter than the profile
    harnesses.append(h)
    pid = h.child_pid()
    h.wait_injected()
    os.kill(pid, signal.SIGKILL)
    code = h.wait(60)
    log = h.output()
    assert code == 2, log[-3000:]
    died = [ln for ln in log.splitlines() if "died mid-run" in ln and "chaosbench:" in ln]
    assert len(died) == 1, log[-3000:]
    assert f"pid {pid}" in died[0] and "killed by SIGKILL" in died[0], died
    assert "note: the fault proxy process died mid-run" in log, log[-3000:]
    meta = json.loads((h.run_dir / "meta.json").read_text())
    assert meta["chaos_stopped"] == "fault_proxy_died"
    assert "Traceback" not in log


def test_embedded_on_request_runs_in_the_harness(tmp_path: Path, harnesses: list[Run]) -> None:
    h = Harness(tmp_path, "embedded", "--chaos-proxy", "embedded")
    harnesses.append(h)
    h.wait_injected()
    log = h.output()
    assert "embedded fault proxy on" in log and not CHILD.search(log), log[-3000:]
    # the API is served by the harness itself: no other process listens on it
    assert _listener_pids(h.api) == {h.popen.pid} or _listener_pids(h.api) == set()
    h.popen.send_signal(signal.SIGTERM)
    assert h.wait(60) == 2
    assert not port_open(h.api)


def _listener_pids(port: int) -> set[int]:
    """Pids whose open sockets include a listener on ``port`` (via /proc, best effort)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            cols = row.split()
            if cols[3] == "0A" and int(cols[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(cols[9])
    pids = set()
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            links = {os.readlink(f) for f in (d / "fd").iterdir()}
        except OSError:
            continue
        if any(f"socket:[{i}]" in links for i in inodes):
            pids.add(int(d.name))
    return pids


def test_an_api_port_in_use_is_one_line(tmp_path: Path) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        child = ProxyProcess(f"127.0.0.1:{port}")
        with pytest.raises(ProxyError) as err:
            child.start()
    message = str(err.value)
    assert "\n" not in message and f"127.0.0.1:{port}" in message, message
    assert "cannot listen" in message, message
    assert child.popen is not None and child.popen.returncode == 2  # stopped, reaped


def test_a_non_loopback_api_is_refused_before_starting() -> None:
    with pytest.raises(ProxyError, match="not a loopback address"):
        ProxyProcess("192.0.2.7:8474")
