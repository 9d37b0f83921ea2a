"""The main job (``make run``): a short load-plus-chaos run against the reference system.

1. checks that PostgreSQL and Redis answer (and says which one does not, where, and how to get it);
2. starts the fault proxy (``python -m chaosbench.proxy``) with the profile's routes, then the
   reference system (``python -m chaosbench.sut``), its dependencies routed through them, and
   waits until it is healthy;
3. runs ``locust -f locustfiles/ --headless`` with the default profile and gate, which walks
   warmup, baseline, bursts and recoveries, then prints the verdict and the report's path;
4. stops the reference system and exits with Locust's exit code (the verdict: 0 pass, 1 gate
   failed, 2 could not run or measure).

Every address and size has a default and an environment variable; nothing else is needed.
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

from chaosbench.chaos.profile import load_profile
from chaosbench.ground.errors import ChaosbenchError

ROOT = Path(__file__).resolve().parents[2]

PROXY_API = os.environ.get("CHAOSBENCH_PROXY_API", "127.0.0.1:8474")
EXIT_MEANING = {0: "the gate passed", 1: "the gate failed", 2: "could not run or measure"}

GET_SERVERS = (
    "start a local server (see ../shared/SERVICES.md or your distribution's package), "
    "or run `make up` to get one from docker-compose"
)


def _addr(url: str, default_port: int) -> tuple[str, int]:
    parts = urlsplit(url)
    return parts.hostname or "127.0.0.1", parts.port or default_port


def reachable(host: str, port: int, timeout: float = 2.0) -> str | None:
    """None when a TCP connection succeeds, else the reason."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return None
    except OSError as exc:
        return exc.strerror or type(exc).__name__


def check_servers(pg_dsn: str, redis_url: str) -> list[str]:
    problems = []
    for label, url, port in (("PostgreSQL", pg_dsn, 5432), ("Redis", redis_url, 6379)):
        host, p = _addr(url, port)
        why = reachable(host, p)
        if why is not None:
            problems.append(f"{label} at {host}:{p} is not reachable ({why}): {GET_SERVERS}")
    return problems


def _port(addr: str) -> int:
    return int(addr.rsplit(":", 1)[1])


def wait_port(host: str, port: int, timeout: float, proc: subprocess.Popen[bytes]) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        if reachable(host, port, 0.2) is None:
            return True
        time.sleep(0.1)
    return False


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    env = os.environ.get
    p = argparse.ArgumentParser(prog="make run", description=__doc__.splitlines()[0])
    p.add_argument(
        "--pg-dsn", default=env("CHAOSBENCH_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")
    )
    p.add_argument("--redis-url", default=env("CHAOSBENCH_REDIS_URL", "redis://127.0.0.1:6379/0"))
    p.add_argument("--sut-port", type=int, default=int(env("CHAOSBENCH_SUT_PORT", "8000")))
    p.add_argument("--profile", default=env("CHAOSBENCH_PROFILE", "profiles/default.yaml"))
    p.add_argument("--gate", default=env("CHAOSBENCH_GATE", "gates/default.yaml"))
    p.add_argument("--users", type=int, default=int(env("CHAOSBENCH_USERS", "24")))
    p.add_argument("--results-dir", default=env("CHAOSBENCH_RESULTS_DIR", "runs"))
    p.add_argument("extra", nargs=argparse.REMAINDER, help="more arguments for locust")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    problems = check_servers(args.pg_dsn, args.redis_url)
    if problems:
        for line in problems:
            print(f"chaosbench: {line}", file=sys.stderr)
        return 2
    try:  # the profile is validated before anything starts; its routes name ports we need
        profile = load_profile(args.profile)
    except ChaosbenchError as err:
        print(f"chaosbench: {err}", file=sys.stderr)
        return 2
    ports = {"the reference system": args.sut_port, "the fault proxy's API": _port(PROXY_API)}
    ports.update({f"route {n}": _port(r.listen) for n, r in profile.routes.items()})
    busy = [
        f"127.0.0.1:{p} ({what})"
        for what, p in ports.items()
        if reachable("127.0.0.1", p, 0.3) is None
    ]
    if busy:
        print(
            f"chaosbench: already in use: {', '.join(busy)}: stop what listens there "
            "(an earlier run?) or change the ports",
            file=sys.stderr,
        )
        return 2

    procs: list[subprocess.Popen[bytes]] = []
    logs = ROOT / args.results_dir
    logs.mkdir(parents=True, exist_ok=True)
    try:
        # 1. The fault proxy with the profile's routes, so that the reference system reaches
        #    PostgreSQL and Redis through it from its first connection on.
        proxy = _start(
            procs,
            [
                sys.executable,
                "-m",
                "chaosbench.proxy",
                "--api",
                PROXY_API,
                "--routes",
                args.profile,
            ],
            logs / "proxy.log",
        )
        if not wait_port("127.0.0.1", _port(PROXY_API), 20.0, proxy):
            print(
                f"chaosbench: the fault proxy did not start; see {logs / 'proxy.log'}",
                file=sys.stderr,
            )
            return 2
        # 2. The reference system, its dependencies routed through the proxy.
        sut_env = {
            **os.environ,
            "SUT_PORT": str(args.sut_port),
            "SUT_PG_DSN": os.environ.get(
                "SUT_PG_DSN", "postgresql://postgres@127.0.0.1:15432/test"
            ),
            "SUT_REDIS_URL": os.environ.get("SUT_REDIS_URL", "redis://127.0.0.1:16379/0"),
        }
        print(f"chaosbench: the reference system on 127.0.0.1:{args.sut_port}, log {logs}/sut.log")
        sut = _start(procs, [sys.executable, "-m", "chaosbench.sut"], logs / "sut.log", sut_env)
        (logs / "sut.pid").write_text(f"{sut.pid}\n")  # process faults of the profile name it
        if not wait_healthy(args.sut_port, 30.0, sut):
            print(
                f"chaosbench: the reference system did not become healthy; see {logs / 'sut.log'}",
                file=sys.stderr,
            )
            return 2
        # 3. The load and the chaos; Locust's exit code is the verdict.
        cmd = [
            sys.executable, "-m", "locust", "-f", "locustfiles/", "--headless",
            "-u", str(args.users), "-r", str(max(1, args.users // 2)),
            "--host", "http://127.0.0.1:18000",
            "--chaos-profile", args.profile, "--chaos-proxy", f"http://{PROXY_API}",
            "--gate", args.gate, "--results-dir", args.results_dir, "--only-summary",
            *[a for a in args.extra if a != "--"],
        ]  # fmt: skip
        print("chaosbench: " + " ".join(cmd[2:]), flush=True)
        code = subprocess.call(cmd, cwd=ROOT)
        print(f"chaosbench: exit code {code} ({EXIT_MEANING.get(code, 'interrupted')})")
        return code
    except KeyboardInterrupt:
        return 130
    finally:
        for proc in reversed(procs):
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()


def _start(
    procs: list[subprocess.Popen[bytes]],
    argv: list[str],
    log: Path,
    env: dict[str, str] | None = None,
) -> subprocess.Popen[bytes]:
    with open(log, "ab") as fh:
        proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=fh, stderr=fh)
    procs.append(proc)
    return proc


def wait_healthy(port: int, timeout: float, proc: subprocess.Popen[bytes]) -> bool:
    """Until /health answers 200 (both dependencies reachable through the proxy)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1.0) as resp:
                if resp.status == 200:
                    return True
        except (OSError, urllib.error.HTTPError):
            pass
        time.sleep(0.2)
    return False


if __name__ == "__main__":
    sys.exit(main())
