"""Thresholds end to end: real ``locust`` processes with chaos off (``--chaos-profile none``, the
whole harness) loading the real Redis, judged by their thresholds: one passes (exit 0), one fails
(exit 1), a bad value is refused before any load (exit 2); and ``chaosbench analyze`` judges the
failing run's directory alike with the option and with a gate file."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import pytest

from chaosbench.cli import main as chaosbench
from tests.conftest import PYTHON, Proc

pytestmark = pytest.mark.slow

LOCUSTFILE = "tests/analysis/locustfile_rec.py"
PASSING = ["http_req_duration{kind:REDIS}: p(95)<2000", "http_req_failed: rate<0.5"]
#: 2 users with a 50 ms wait cannot make 100 000 requests a second
FAILING = ["http_req_duration{kind:REDIS}: p(95)<2000", "http_reqs: rate>100000"]


def _locust(tmp: Path, run_id: str, *args: str) -> list[str]:
    return [
        PYTHON, "-m", "locust", "-f", LOCUSTFILE, "--headless", "--only-summary",
        "-u", "2", "-r", "2", "-t", "3s", "--chaos-profile", "none", "--sut-pg-dsn", "none",
        "--results-dir", str(tmp / "runs"), "--run-id", run_id, *args,
    ]  # fmt: skip


def _gate(path: Path, lines: list[str]) -> Path:
    section = "".join(f"  {k}: ['{e.strip()}']\n" for k, e in (x.split(": ") for x in lines))
    path.write_text("thresholds:\n" + section, encoding="utf-8")
    return path


def _junit(report_dir: Path) -> dict[str, str]:
    suite = ET.parse(report_dir / "junit.xml").getroot().find("testsuite")
    assert suite is not None
    return {
        str(c.get("name")): "failure" if c.find("failure") is not None else "ok"
        for c in suite
        if c.get("classname") == "chaosbench.thresholds"
    }


def test_chaos_off_runs_pass_and_fail_by_their_thresholds(
    spawn: Callable[..., Proc], tmp_path: Path, key_prefix: str, capsys: pytest.CaptureFixture[str]
) -> None:
    env = {"CB_TEST_PREFIX": key_prefix, "CB_TEST_WAIT": "0.05"}
    gate = _gate(tmp_path / "pass.yaml", PASSING)
    # four at once: the gate form, the variable (a JSON list), a bad option value, no threshold
    passing = spawn(_locust(tmp_path, "pass", "--gate", str(gate)), env=env, name="pass")
    failing = spawn(
        _locust(tmp_path, "fail"), env={**env, "LOCUST_THRESHOLD": json.dumps(FAILING)}, name="fail"
    )
    bad = spawn(
        _locust(tmp_path, "bad", "--threshold", "http_req_failed: rate<5"), env=env, name="bad"
    )
    nothing = spawn(_locust(tmp_path, "nothing"), env=env, name="nothing")
    procs = (passing, failing, bad, nothing)
    codes = [p.popen.wait(120) for p in procs]
    outs = [p.output() for p in procs]
    assert all("Traceback" not in o for o in outs), outs
    assert codes == [0, 1, 2, 2], [o[-2500:] for o in outs]

    last = outs[0].strip().splitlines()[-6:]
    assert last[0] == "chaosbench verdict: PASS (exit 0): 2 pass, 10 n/a", last
    assert last[1] == "  thresholds (chaos was off: they judge the run):"
    assert last[2].startswith(
        "    pass         http_req_duration{kind:REDIS}: p(95)<2000  measured "
    )
    assert last[-1] == "chaosbench: exit code 0 (the gate passed)"
    assert "    fail         http_reqs: rate>100000  measured " in outs[1]
    assert outs[1].strip().splitlines()[-1] == "chaosbench: exit code 1 (the gate failed)"
    # refused at start, before any user or run directory
    assert (
        "chaosbench: --threshold 'http_req_failed: rate<5': 'rate<5': a rate is from 0 to 1 "
        "(0.01 is 1 %)"
    ) in outs[2]
    assert "Ramping to" not in outs[2] and not (tmp_path / "runs" / "bad").exists()
    # chaos off without a threshold: said at the start, and the verdict's one note
    assert "chaos is off (--chaos-profile none) and no threshold is configured" in outs[3]
    assert "  note: chaos was off and no threshold is configured: nothing to judge" in outs[3]

    # the gate's copy in meta.json holds its thresholds; the option's values are in the options
    meta = json.loads((tmp_path / "runs" / "pass" / "meta.json").read_text())
    assert meta["gate"]["config"]["thresholds"] == {
        "http_req_duration{kind:REDIS}": ["p(95)<2000"],
        "http_req_failed": ["rate<0.5"],
    }
    run = tmp_path / "runs" / "fail"
    assert json.loads((run / "meta.json").read_text())["options"]["threshold"] == FAILING

    # the failing run's directory judged again: with the option, with a gate file: one verdict
    capsys.readouterr()
    by_cli = chaosbench(
        ["analyze", str(run), "--out", str(tmp_path / "cli"),
         *[x for line in FAILING for x in ("--threshold", line)]]
    )  # fmt: skip
    cli_out = capsys.readouterr().out
    gate_file = _gate(tmp_path / "fail.yaml", FAILING)
    by_gate = chaosbench(
        ["analyze", str(run), "--out", str(tmp_path / "gate"), "--gate", str(gate_file)]
    )
    gate_out = capsys.readouterr().out
    assert by_cli == by_gate == 1
    assert (
        _junit(tmp_path / "cli")
        == _junit(tmp_path / "gate")
        == {
            FAILING[0]: "ok",
            FAILING[1]: "failure",
        }
    )
    assert [x for x in cli_out.splitlines() if "measured" in x] == [
        x for x in gate_out.splitlines() if "measured" in x
    ]
