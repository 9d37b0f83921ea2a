"""Helpers for the users' tests: scripts that run in their own gevent-patched process."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import psycopg
import pytest
import redis

from tests.conftest import PG_DSN, PYTHON, REDIS_URL, ROOT, Proc, free_port, port_open, wait_until

SCRIPTS = ROOT / "tests" / "users" / "scripts"


def run_script(
    name: str, *args: str, timeout: float = 120, env: dict[str, str] | None = None
) -> dict[str, Any]:
    """Run tests/users/scripts/<name>.py and return its RESULT line as a dict."""
    proc = subprocess.run(
        [PYTHON, str(SCRIPTS / f"{name}.py"), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=ROOT,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
    )
    lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")]
    tail = f"{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    assert lines, f"{name} printed no result (exit {proc.returncode}):\n{tail}"
    result = json.loads(lines[-1][len("RESULT ") :])
    assert "error" not in result, f"{name}: {result['error']}\n{proc.stderr[-3000:]}"
    assert proc.returncode == 0, f"{name} exited {proc.returncode}:\n{proc.stderr[-3000:]}"
    return result


@pytest.fixture
def script() -> Callable[..., dict[str, Any]]:
    return run_script


@dataclass(frozen=True)
class Sut:
    url: str
    tag: str  # unique: schemas and key prefixes of this module's SUT and users start with it


@pytest.fixture(scope="module")
def sut(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sut]:
    """The reference system (``python -m chaosbench.sut``) on a free port, with its own schema and
    prefix;
    both, and the load users' schema/prefix (``<tag>_load``, ``<tag>:load:``), dropped after."""
    tag = f"cbt_{uuid.uuid4().hex[:10]}"
    port = free_port()
    log = tmp_path_factory.mktemp("sut") / "sut.log"
    proc = Proc(
        [PYTHON, "-m", "chaosbench.sut", "--port", str(port), "--pg-dsn", PG_DSN, "--pg-schema",
         f"{tag}_sut", "--redis-url", REDIS_URL, "--redis-prefix", f"{tag}:sut:"],
        log,
    )  # fmt: skip
    try:
        wait_until(lambda: port_open(port) or proc.popen.poll() is not None, timeout=30)
        assert proc.popen.poll() is None, proc.output()
        yield Sut(f"http://127.0.0.1:{port}", tag)
    finally:
        proc.stop()
        with psycopg.connect(PG_DSN, autocommit=True) as conn:
            for schema in (f"{tag}_sut", f"{tag}_load"):
                conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        r = redis.Redis.from_url(REDIS_URL)
        keys = list(r.scan_iter(match=f"{tag}:*", count=1000))
        for i in range(0, len(keys), 500):
            r.delete(*keys[i : i + 500])
