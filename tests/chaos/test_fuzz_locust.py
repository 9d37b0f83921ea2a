"""Nasty profiles, gates and numeric options at a real ``locust`` start: exit code 2, one
``chaosbench:`` line naming the file or option, no traceback, no user spawned, no run directory."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.chaos.fuzz_corpus import GATES, PROFILES
from tests.conftest import PYTHON, ROOT

pytestmark = pytest.mark.slow

LOCUSTFILE = "tests/chaos/chaos_locustfile.py"

# name: (extra arguments, with FILE for the nasty file; the file's bytes; what the line says)
CASES: dict[str, tuple[list[str], bytes, str]] = {
    "profile_billion_laughs": (
        ["--chaos-profile", "FILE"],
        PROFILES["billion_laughs"][0],
        "FILE: line 5: more than 20000 nodes",
    ),
    "profile_inf_duration": (
        ["--chaos-profile", "FILE"],
        PROFILES["inf_duration"][0],
        "FILE: line 2: '.inf' is not a finite number",
    ),
    "profile_deep": (
        ["--chaos-profile", "FILE"],
        PROFILES["deep_flow_10000"][0],
        "FILE: line 1: invalid YAML",
    ),
    "gate_binary": (
        ["--no-chaos", "--gate", "FILE"],
        GATES["binary"][0],
        "gate config FILE: line 2 (byte 128): not UTF-8",
    ),
    "gate_deep": (
        ["--no-chaos", "--gate", "FILE"],
        GATES["deep_flow_100"][0],
        "gate config FILE: line 1: nested deeper than 64 levels",
    ),
    "gate_min_samples": (
        ["--no-chaos", "--gate", "FILE"],
        GATES["min_samples_1e30"][0],
        "gate config FILE: min_samples",
    ),
    "pacing_nan": (["--no-chaos", "--pacing-rate", "nan"], b"", "--pacing-rate: nan must be 0"),
    "pacing_1e400": (["--no-chaos", "--pacing-rate", "1e400"], b"", "--pacing-rate: inf must"),
    "pacing_negative": (["--no-chaos", "--pacing-rate", "-1"], b"", "--pacing-rate: -1.0 must"),
    "window_grace_nan": (["--no-chaos", "--window-grace", "nan"], b"", "--window-grace nan"),
    "influx_timeout_inf": (["--no-chaos", "--influx-timeout", "inf"], b"", "--influx-timeout inf"),
}


def test_nasty_input_at_locust_start_is_one_line_and_no_load(tmp_path: Path) -> None:
    items = list(CASES.items())
    for start in range(0, len(items), 4):  # a few processes at a time (2 shared cores)
        procs = []
        for name, (extra, data, expected) in items[start : start + 4]:
            path = tmp_path / f"{name}.yaml"
            path.write_bytes(data)
            runs = tmp_path / f"runs-{name}"
            args = [PYTHON, "-m", "locust", "-f", LOCUSTFILE, "-u", "2", "-r", "2", "--headless",
                    "--run-time", "5s", "--only-summary", "--results-dir", str(runs),
                    *(str(path) if a == "FILE" else a for a in extra)]  # fmt: skip
            p = subprocess.Popen(
                args, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
            )
            procs.append((name, p, runs, expected.replace("FILE", str(path))))
        for name, p, runs, expected in procs:
            out, err = p.communicate(timeout=120)
            assert p.returncode == 2, (name, p.returncode, err[-2000:])
            lines = [line for line in err.splitlines() if line.startswith("chaosbench:")]
            assert len(lines) == 1, (name, err[-2000:])
            assert lines[0].startswith(f"chaosbench: {expected}"), (name, lines[0][:300])
            assert len(lines[0]) <= 520, (name, len(lines[0]))
            assert "Traceback" not in out + err, (name, err[-2000:])
            assert "Ramping" not in err and "All users spawned" not in err, (name, "load started")
            assert not runs.exists(), (name, "a run directory was created")
