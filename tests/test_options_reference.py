"""The options reference checks (tests/options_reference_checks.py) in a process of their own:
they import Locust, whose monkey-patching must not reach this pytest process."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT


def test_options_reference_checks_pass_in_their_own_process() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         "tests/options_reference_checks.py"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert out.returncode == 0, out.stdout[-6000:] + out.stderr[-2000:]
    assert " passed" in out.stdout and "failed" not in out.stdout, out.stdout[-2000:]
