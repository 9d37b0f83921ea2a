# ruff: noqa: E402  (gevent patches before the imports below, see the first lines)
"""Shared fixtures: the real PostgreSQL and Redis on 127.0.0.1, free ports, process helpers."""

from __future__ import annotations

# First, before any test module imports ssl, urllib3 or redis: gevent's monkey-patching, as
# Locust does when it is imported (a test module importing influxdb-client before another imports
# locust left ssl unpatched, and locust's import then recursed in ssl). Every Locust process
# patches first too; the tests run as it does.
from gevent import monkey

monkey.patch_all()

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PG_DSN = os.environ.get("CHAOSBENCH_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("CHAOSBENCH_TEST_REDIS", "redis://127.0.0.1:6379/0")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_until(
    cond: Callable[[], object],
    timeout: float = 10.0,
    interval: float = 0.02,
    sleep: Callable[[float], object] = time.sleep,
) -> object:
    """Poll ``cond`` until it returns a truthy value; fail the test after ``timeout`` seconds.
    ``sleep=gevent.sleep`` lets greenlets (a fault's, a server's) run while waiting."""
    deadline = time.monotonic() + timeout
    last: object = None
    while time.monotonic() < deadline:
        try:
            last = cond()
        except Exception as exc:  # the condition may raise while the thing is coming up
            last = exc
        else:
            if last:
                return last
        sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s (last: {last!r})")


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session", autouse=True)
def _own_ledger(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """The test session's own chaos ledger (every harness start reverts the machine ledger's
    leftovers: tests must neither see nor revert another session's entries). Tests about the
    default location set XDG_STATE_HOME / CHAOSBENCH_LEDGER themselves."""
    path = tmp_path_factory.mktemp("ledger") / "ledger.json"
    saved = os.environ.get("CHAOSBENCH_LEDGER")
    os.environ["CHAOSBENCH_LEDGER"] = str(path)
    yield
    if saved is None:
        os.environ.pop("CHAOSBENCH_LEDGER", None)
    else:
        os.environ["CHAOSBENCH_LEDGER"] = saved


@pytest.fixture(scope="session")
def pg_dsn() -> str:
    return PG_DSN


@pytest.fixture(scope="session")
def redis_url() -> str:
    return REDIS_URL


@pytest.fixture
def key_prefix() -> str:
    """A unique prefix (Redis keys, PostgreSQL schemas) so that parallel runs do not collide."""
    return f"cbt_{uuid.uuid4().hex[:10]}"


class Proc:
    """A child process started by a test, with its output captured to a file."""

    def __init__(self, args: list[str], log: Path, env: dict[str, str] | None = None) -> None:
        self.args = args
        self.log = log
        self._fh = open(log, "wb")
        full_env = {**os.environ, **(env or {})}
        full_env.setdefault("PYTHONUNBUFFERED", "1")
        self.popen = subprocess.Popen(
            args, stdout=self._fh, stderr=subprocess.STDOUT, env=full_env, cwd=ROOT
        )

    def output(self) -> str:
        self._fh.flush()
        return self.log.read_text(errors="replace")

    def stop(self, timeout: float = 10.0) -> int:
        if self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait(timeout)
        self._fh.close()
        return int(self.popen.returncode)


@pytest.fixture
def spawn(tmp_path: Path) -> Iterator[Callable[..., Proc]]:
    """Start child processes that are stopped at the end of the test."""
    procs: list[Proc] = []

    def _spawn(args: list[str], env: dict[str, str] | None = None, name: str = "proc") -> Proc:
        p = Proc(args, tmp_path / f"{name}-{len(procs)}.log", env)
        procs.append(p)
        return p

    yield _spawn
    for p in procs:
        p.stop()


PYTHON = sys.executable


#: The main job's fixed default ports: proxy API, reference system, the default profile's routes.
DEFAULT_PORTS = (8474, 8000, 15432, 16379, 18000)


@pytest.fixture
def default_ports() -> Iterator[tuple[int, ...]]:
    """Exclusive use of the default ports (``DEFAULT_PORTS``): a lock file held for the test,
    so that no two tests (of this session or another on the machine) run the main job or a
    plain ``locust -f locustfiles/`` on them at once. Fails when something else listens there."""
    import fcntl
    import tempfile

    with open(Path(tempfile.gettempdir()) / "chaosbench-default-ports.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            busy = [p for p in DEFAULT_PORTS if port_open(p)]
            assert not busy, f"the default ports {busy} are in use by another process"
            yield DEFAULT_PORTS
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
