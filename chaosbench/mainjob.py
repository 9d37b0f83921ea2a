"""The main job (``make run``): a short load-plus-chaos run against the reference system.

1. checks that PostgreSQL and Redis answer (and says which one does not, where, and how to get it);
2. starts the reference system (``python -m sut``), its dependencies routed through the fault
   proxy's routes of the default profile;
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
from pathlib import Path
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parent.parent

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
    if reachable("127.0.0.1", args.sut_port, 0.3) is None:
        print(
            f"chaosbench: port 127.0.0.1:{args.sut_port} is already in use: stop what listens "
            "there or set CHAOSBENCH_SUT_PORT",
            file=sys.stderr,
        )
        return 2

    # The profile's proxy routes: the reference system reaches PostgreSQL and Redis through them.
    sut_env = {
        **os.environ,
        "SUT_PORT": str(args.sut_port),
        "SUT_PG_DSN": os.environ.get("SUT_PG_DSN", "postgresql://postgres@127.0.0.1:15432/test"),
        "SUT_REDIS_URL": os.environ.get("SUT_REDIS_URL", "redis://127.0.0.1:16379/0"),
    }
    sut_log = ROOT / args.results_dir / "sut.log"
    sut_log.parent.mkdir(parents=True, exist_ok=True)
    print(
        f"chaosbench: starting the reference system on 127.0.0.1:{args.sut_port} (log: {sut_log})"
    )
    with open(sut_log, "ab") as log:
        sut = subprocess.Popen(
            [sys.executable, "-m", "sut"], cwd=ROOT, env=sut_env, stdout=log, stderr=log
        )
    try:
        if not wait_port("127.0.0.1", args.sut_port, 20.0, sut):
            print(f"chaosbench: the reference system did not start; see {sut_log}", file=sys.stderr)
            return 2
        cmd = [
            sys.executable, "-m", "locust", "-f", "locustfiles/", "--headless",
            "-u", str(args.users), "-r", str(max(1, args.users // 2)),
            "--host", "http://127.0.0.1:18000",
            "--chaos-profile", args.profile, "--gate", args.gate,
            "--results-dir", args.results_dir, "--only-summary",
            *[a for a in args.extra if a != "--"],
        ]  # fmt: skip
        print("chaosbench: " + " ".join(cmd[2:]))
        return subprocess.call(cmd, cwd=ROOT)
    except KeyboardInterrupt:
        return 130
    finally:
        sut.send_signal(signal.SIGTERM)
        try:
            sut.wait(10)
        except subprocess.TimeoutExpired:
            sut.kill()


if __name__ == "__main__":
    sys.exit(main())
