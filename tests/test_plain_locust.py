"""Plain ``locust -f locustfiles/ --headless`` with no other option runs the main job by
itself: the reference system behind the fault proxy on the default ports, the default profile
and gate, a verdict, and nothing left running. A ``--run-time`` shorter than the profile is
refused before anything starts.

The plain run uses the fixed default ports (``default_ports`` holds their lock, as the main
job's tests do) and lasts the default profile's two minutes.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import PYTHON, ROOT, port_open, wait_until

LOCUST = str(Path(PYTHON).parent / "locust")
LOCUSTFILES = str(ROOT / "locustfiles") + "/"


def _env() -> dict[str, str]:
    """The environment with no LOCUST_ option in it (the run gets no option but --headless)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("LOCUST_")}


def run_plain(cwd: Path, *extra: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """``locust -f <checkout>/locustfiles/ --headless [extra]`` in ``cwd``, no LOCUST_ variable."""
    return subprocess.run(
        [LOCUST, "-f", LOCUSTFILES, "--headless", *extra],
        cwd=cwd,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _children_in(cwd: Path) -> list[str]:
    """Processes of the harness still running with ``cwd`` as their working directory."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if Path(os.readlink(proc / "cwd")) != cwd:
                continue
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        found.append(f"{proc.name}: {cmdline}")
    return found


@pytest.mark.slow
def test_plain_locust_on_defaults_runs_the_main_job_and_stops_it(
    tmp_path: Path, default_ports: tuple[int, ...]
) -> None:
    p = run_plain(tmp_path, timeout=280)
    out = p.stdout + p.stderr
    assert p.returncode in (0, 1), out[-4000:]
    assert "Traceback" not in out, out[-4000:]
    assert "no --host: starting the reference system on 127.0.0.1:8000" in out, out[:3000]
    # the profile's faults of every layer ran, the process fault on the pid file it names
    assert re.search(r"inject sut_freeze \(process_stop on pidfile:runs/sut\.pid\): ok", out)
    assert re.search(r"inject pg_latency \(latency on sut_pg\): ok", out), out[-4000:]
    assert "All users spawned" in out and "(24 total users)" in out
    # it ends in the verdict and the report of a run directory in the working directory
    verdict = re.search(r"^chaosbench verdict: .*$", out, re.M)
    assert verdict is not None and f"(exit {p.returncode})" in verdict.group(0), out[-3000:]
    report = re.search(r"^chaosbench report: (runs/\S+)/report\.md$", out, re.M)
    assert report is not None, out[-3000:]
    run_dir = tmp_path / report.group(1)
    assert (run_dir / "report.md").is_file() and (run_dir / "report.html").is_file()
    assert (run_dir / "findings.json").is_file()
    assert (tmp_path / "runs" / "sut.log").stat().st_size > 0
    # the reference system and the proxy are gone, their ports free, their pid file removed
    assert _children_in(tmp_path) == []
    assert [port for port in default_ports if port_open(port)] == []
    assert not (tmp_path / "runs" / "sut.pid").exists()


@pytest.fixture
def listening() -> Iterator[int]:
    """A real listening socket on loopback (a --host that answers the users' TCP probe)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(16)
        yield int(s.getsockname()[1])


@pytest.mark.parametrize("own_host", [False, True], ids=["plain", "with-host"])
def test_a_run_time_shorter_than_the_profile_is_refused_before_anything_starts(
    tmp_path: Path, own_host: bool, listening: int
) -> None:
    host = ["--host", f"http://127.0.0.1:{listening}"] if own_host else []
    p = run_plain(tmp_path, "-u", "10", "-t", "30s", *host)
    out = p.stdout + p.stderr
    assert p.returncode == 2, out[-3000:]
    lines = [ln for ln in p.stderr.splitlines() if ln.startswith("chaosbench")]
    assert len(lines) == 1, out[-3000:]
    assert lines[0].startswith("chaosbench: --run-time 30s is shorter than the chaos profile ")
    assert "default.yaml (2m;" in lines[0] and "recovery3" in lines[0]
    assert "give --run-time 2m or more, or leave --run-time out" in lines[0]
    assert "Traceback" not in out and "not recovered" not in out
    assert "Ramping" not in out and "All users spawned" not in out  # no load
    assert "starting the reference system" not in out
    assert list(tmp_path.iterdir()) == []  # no run directory, no logs, no pid file
    assert _children_in(tmp_path) == []


@pytest.mark.parametrize("how", ["SIGTERM", "SIGINT", "refused"])
def test_the_reference_system_is_stopped_on_every_exit_path(
    tmp_path: Path, default_ports: tuple[int, ...], how: str
) -> None:
    """Stopped mid-run by a signal, or a start refused after it was started (a bad option
    found by a later init listener): nothing is left running, no port stays taken."""
    log = tmp_path / "locust.log"
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    args = [LOCUST, "-f", LOCUSTFILES, "--headless"]
    if how == "refused":
        args += ["--user-mix", "NoSuchUser=1"]
    with open(log, "wb") as fh:
        proc = subprocess.Popen(args, cwd=cwd, env=_env(), stdout=fh, stderr=subprocess.STDOUT)
    try:
        if how != "refused":
            wait_until(lambda: "phase warmup" in log.read_text(errors="replace"), timeout=90)
            proc.send_signal(getattr(signal, how))
        code = proc.wait(90)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(30)
    out = log.read_text(errors="replace")
    assert "starting the reference system" in out, out[-3000:]
    assert "Traceback" not in out, out[-3000:]
    if how == "refused":
        assert code == 2 and "--user-mix: no user class 'NoSuchUser'" in out, out[-3000:]
        assert "All users spawned" not in out
    else:
        assert code in (0, 1, 2), out[-3000:]
    assert _children_in(cwd) == []
    assert [port for port in default_ports if port_open(port)] == []
    assert not (cwd / "runs" / "sut.pid").exists()


def test_a_taken_default_port_is_one_line_before_anything_starts(
    tmp_path: Path, default_ports: tuple[int, ...]
) -> None:
    with socket.socket() as taken:
        taken.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        taken.bind(("127.0.0.1", 18000))  # the default profile's route to the reference system
        taken.listen(1)
        p = run_plain(tmp_path)
    out = p.stdout + p.stderr
    assert p.returncode == 2, out[-3000:]
    lines = [ln for ln in p.stderr.splitlines() if ln.startswith("chaosbench")]
    assert lines == [
        "chaosbench: already in use: 127.0.0.1:18000 (route api): stop what listens there (an "
        "earlier run?) or change the ports (--chaos-proxy-api; the others: chaosbench run "
        "--sut-port, a --profile of other routes)"
    ], out[-3000:]
    assert "Traceback" not in out and "starting the reference system" not in out
    assert list(tmp_path.iterdir()) == []
    assert [port for port in default_ports if port_open(port)] == []


@pytest.fixture(scope="module")
def locust_parser() -> Any:
    """Locust's own parser with chaosbench's options, as `locust` parses them."""
    from chaosbench.wiring.reference import full_parser

    return full_parser()[0]


@pytest.mark.parametrize(
    ("args", "flag"),
    [
        ([], None),
        (["--chaos-profile", "default"], None),
        (["--pg-dsn", "postgresql://postgres@127.0.0.1:5432/test"], None),  # the default itself
        (["--host", "http://my-api:8000"], "--host"),
        (["--ws-url", "ws://my-api:8000/ws/feed"], "--ws-url"),
        (["--pg-dsn", "postgresql://u@db:5432/app"], "--pg-dsn"),
        (["--redis-url", "redis://cache:6379/1"], "--redis-url"),
        (["--sut-pg-dsn", "none"], "--sut-pg-dsn"),
        (["--chaos-proxy", "http://127.0.0.1:8474"], "--chaos-proxy"),
        (["--no-chaos"], "--no-chaos"),
        (["--chaos-profile", "market-maker"], "--chaos-profile"),
    ],
)
def test_a_target_of_ones_own_starts_nothing(
    locust_parser: Any, args: list[str], flag: str | None
) -> None:
    from chaosbench.wiring.plain import own_target

    assert own_target(locust_parser.parse_args(["-f", LOCUSTFILES, "--headless", *args])) == flag
