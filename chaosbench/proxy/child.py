"""The fault proxy as a child process of the harness: ``python -m chaosbench.proxy`` on its own
core, out of the load generator's event loop and GIL.

``ProxyProcess(api).start()`` starts it with the same interpreter, waits until its API answers
and returns; ``watch(on_death)`` calls ``on_death(line)`` once if it exits while nobody stopped
it; ``stop()`` ends it (stdin closed, then SIGTERM, then SIGKILL) and is idempotent.

The child cannot outlive the harness, whatever ends the harness (SIGKILL included):

- it reads its stdin, a pipe whose only writer is the harness: EOF means the harness is gone
  (every platform; ``--parent-pipe``);
- on Linux it also asks the kernel for ``SIGKILL`` when its parent dies (``PR_SET_PDEATHSIG``,
  ``--parent-pid``), and exits at once if the parent is already gone by then;
- it ignores SIGINT (``--parent-pipe``), so a Ctrl-C in the terminal ends the harness only: the
  harness reverts its faults through the proxy before it stops it.

Its toxics therefore die with the harness: they are not ledger entries (like the embedded proxy,
unlike ``--chaos-proxy URL``).
"""

from __future__ import annotations

import atexit
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable

from chaosbench.ground.errors import ProxyError
from chaosbench.proxy.addr import is_loopback, join_hostport, split_hostport
from chaosbench.proxy.client import ToxiproxyClient
from chaosbench.proxy.errors import ApiError

log = logging.getLogger("chaosbench.proxy")

START_TIMEOUT = 30.0  # seconds until the child's API must answer
STOP_TIMEOUT = 5.0  # seconds a step of stop() waits for the child to exit
POLL = 0.02  # seconds between two looks at the starting child


def exit_text(code: int | None) -> str:
    """``exit code 3`` / ``killed by SIGKILL`` / ``still running``."""
    if code is None:
        return "still running"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _sleep(seconds: float) -> None:
    """Cooperative under gevent's monkey-patching (Locust), plain otherwise."""
    time.sleep(seconds)


class ProxyProcess:
    """One ``python -m chaosbench.proxy`` child on loopback ``api`` (``host:port``)."""

    def __init__(self, api: str, python: str = sys.executable) -> None:
        try:
            self.host, self.port = split_hostport(api, "API")
        except ApiError as exc:
            raise ProxyError(f"--chaos-proxy-api: {exc.message}") from None
        if not is_loopback(self.host):
            raise ProxyError(
                f"--chaos-proxy-api: {api!r} is not a loopback address: the fault proxy "
                "started by the harness is a loopback tool"
            )
        if self.port == 0:  # the child must listen where we look: pick a free port here
            self.port = _free_port(self.host)
        self.api = join_hostport(self.host, self.port)
        self.python = python
        self.popen: subprocess.Popen[bytes] | None = None
        self.stopping = False
        self._stderr_tail: list[str] = []
        self._watcher: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://{join_hostport(self.host, self.port)}"

    @property
    def pid(self) -> int | None:
        return self.popen.pid if self.popen is not None else None

    def command(self) -> list[str]:
        cmd = [self.python, "-m", "chaosbench.proxy", "--api", self.api, "--parent-pipe"]
        if sys.platform.startswith("linux"):
            cmd += ["--parent-pid", str(os.getpid())]
        return cmd

    # -- start -------------------------------------------------------------------------------

    def start(self) -> ProxyProcess:
        """Start the child and return once its API answers; ProxyError (one line) otherwise,
        with the child stopped."""
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}  # same interpreter, path and cwd
        try:
            self.popen = subprocess.Popen(
                self.command(),
                stdin=subprocess.PIPE,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                env=env,
                # not in a session of its own: an own session is an own scheduler autogroup
                # on Linux, and its wakeups then wait behind the harness's (HTTP routes: +0.2
                # to +2 ms per request, bench.proxy_overhead). It ignores SIGINT instead.
            )
        except OSError as exc:
            raise ProxyError(f"cannot start the fault proxy process: {exc}") from None
        atexit.register(self.stop)  # an exception or sys.exit in another init listener
        client = ToxiproxyClient(self.url, timeout=1.0)
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            if self.popen.poll() is not None:
                self._fail_start(f"it exited at start ({exit_text(self.popen.returncode)})")
            try:
                client.version()
                break
            except ProxyError:
                if time.monotonic() > deadline:
                    self._fail_start(f"its API did not answer within {START_TIMEOUT:.0f} s")
                _sleep(POLL)
        log.info("fault proxy process pid %s, API %s", self.popen.pid, self.url)
        return self

    def _fail_start(self, why: str) -> None:
        self.stop()
        assert self.popen is not None and self.popen.stderr is not None
        try:
            text = self.popen.stderr.read().decode(errors="replace")
        except (OSError, ValueError):
            text = ""
        lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
        said = [ln.removeprefix("chaosbench: ") for ln in lines if ln.startswith("chaosbench: ")]
        if said:  # the child's own one line (e.g. its API cannot listen)
            raise ProxyError(said[-1])
        raise ProxyError(f"the fault proxy process on {self.api}: {why}")

    # -- watch -------------------------------------------------------------------------------

    def watch(self, on_death: Callable[[str], None]) -> None:
        """Relay the child's stderr to the log and call ``on_death(line)`` if it exits while
        not stopped. In a gevent-patched process the watcher is a greenlet."""
        if self.popen is None or self._watcher is not None:
            return
        self._watcher = threading.Thread(
            target=self._watch, args=(on_death,), name="chaosbench-proxy-watch", daemon=True
        )
        self._watcher.start()

    def _watch(self, on_death: Callable[[str], None]) -> None:
        popen = self.popen
        assert popen is not None and popen.stderr is not None
        try:
            for raw in popen.stderr:  # until EOF: the child closed it (it exited)
                line = raw.decode(errors="replace").rstrip()
                if line:
                    log.warning("fault proxy: %s", line)
        except (OSError, ValueError):
            pass
        code = popen.wait()
        if self.stopping:
            return
        on_death(
            f"the fault proxy process (pid {popen.pid}, API {self.api}) died mid-run "
            f"({exit_text(code)}): faults can no longer act, the run cannot be judged"
        )

    # -- stop --------------------------------------------------------------------------------

    def stop(self) -> None:
        """End the child (idempotent, never raises): stdin closed (it exits on EOF), then
        SIGTERM, then SIGKILL, each given ``STOP_TIMEOUT``."""
        self.stopping = True
        atexit.unregister(self.stop)
        popen = self.popen
        if popen is None:
            return
        try:
            if popen.stdin is not None:
                popen.stdin.close()
        except OSError:
            pass
        for step in (None, signal.SIGTERM, signal.SIGKILL):
            if popen.poll() is not None:
                break
            if step is not None:
                try:
                    popen.send_signal(step)
                except OSError:
                    pass
            try:
                popen.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                continue
        if popen.returncode is None:
            log.error("the fault proxy process pid %s did not stop", popen.pid)
