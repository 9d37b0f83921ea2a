"""Helpers for the users' tests: scripts that run in their own gevent-patched process."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable
from typing import Any

import pytest

from tests.conftest import PYTHON, ROOT

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
