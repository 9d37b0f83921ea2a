"""The main job (`make run`) says which server is missing, where, and how to get it."""

from __future__ import annotations

import subprocess

from tests.conftest import PYTHON, ROOT, free_port


def run_mainjob(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PYTHON, "-m", "chaosbench.cli.mainjob", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_unreachable_postgres_is_named_with_address_and_remedy() -> None:
    port = free_port()
    out = run_mainjob("--pg-dsn", f"postgresql://postgres@127.0.0.1:{port}/test")
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    assert f"PostgreSQL at 127.0.0.1:{port} is not reachable" in lines[0]
    assert "make up" in lines[0]
    assert "Traceback" not in out.stderr


def test_unreachable_redis_is_named() -> None:
    port = free_port()
    out = run_mainjob("--redis-url", f"redis://127.0.0.1:{port}/0")
    assert out.returncode == 2
    assert f"Redis at 127.0.0.1:{port} is not reachable" in out.stderr
    assert "PostgreSQL" not in out.stderr
