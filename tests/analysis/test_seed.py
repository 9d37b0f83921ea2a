"""The seed the scheduler used is in meta.json, given or random, and replaying it repeats the plan.

Real locust processes with the whole harness (embedded fault proxy, Redis load through it), then
the recorded seed replayed in this process: the same plan (``build_plan``), the same rotation
order and the same fault generators (the toxic seeds each fault drew) as the run's journal.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from chaosbench.analysis.rundir import load
from chaosbench.chaos.faults import FaultContext
from chaosbench.chaos.profile import load_profile
from chaosbench.chaos.schedule import build_plan
from chaosbench.chaos.scheduler import Scheduler
from chaosbench.ground.events import ChaosEvents
from chaosbench.ground.journal import JournalRecord
from chaosbench.ground.timeline import PhaseTimeline
from tests.conftest import PYTHON, Proc, free_port, wait_until

LOCUSTFILE = "tests/analysis/locustfile_rec.py"


def _profile(tmp_path: Path, seed_line: str, redis: int) -> Path:
    api = free_port()
    profile = tmp_path / "profile.yaml"
    profile.write_text(
        f"enabled: true\n{seed_line}"
        "phases: {warmup: 0s, baseline: 1s, burst_on: 1s, burst_off: 1s, bursts: 4, "
        "cooldown: 0s}\n"
        "rotation: {order: shuffle}\n"
        "proxy:\n  routes:\n"
        f"    redis: {{listen: 127.0.0.1:{redis}, upstream: 127.0.0.1:6379}}\n"
        f"    api: {{listen: 127.0.0.1:{api}, upstream: 127.0.0.1:9, protocol: http}}\n"
        "faults:\n"
        "  - {scenario: a, name: e429, type: http_error, route: api, status: 429, rate: 0.5}\n"
        "  - {scenario: b, name: e503, type: http_error, route: api, status: 503, rate: 0.3}\n"
        "  - {scenario: c, name: slow, type: latency, route: redis, latency_ms: 2}\n"
    )
    return profile


def _injects(journal: list[JournalRecord]) -> list[tuple[int | None, str, str, Any]]:
    """(burst, fault, scenario, toxic seed) of every inject, in order."""
    return [
        (r.burst, r.name, r.details.get("scenario"), r.details.get("attributes", {}).get("seed"))
        for r in sorted(journal, key=lambda r: r.start)
        if r.kind == "inject"
    ]


def _replay(profile: Path, seed: int) -> list[tuple[int | None, str, str, Any]]:
    """The plan of ``profile`` with ``seed``, run by a dry-run scheduler in this process."""
    p = load_profile(str(profile), seed=seed, dry_run=True)
    s = Scheduler(p, FaultContext(), timeline=PhaseTimeline(), events=ChaosEvents())
    s.run()
    return _injects(s.journal)


@pytest.mark.slow
@pytest.mark.parametrize("given", [7, None], ids=["chaos-seed-7", "random-seed"])
def test_the_seed_used_is_recorded_and_replays_the_same_plan(
    spawn: Callable[..., Proc], tmp_path: Path, key_prefix: str, given: int | None
) -> None:
    # with --chaos-seed 7 the profile's own seed (3) is overridden; without, none: random
    route = free_port()
    profile = _profile(tmp_path, "seed: 3\n" if given is not None else "", route)
    results = tmp_path / "runs"
    seed_args = ["--chaos-seed", str(given)] if given is not None else []
    proc = spawn(
        [
            PYTHON, "-m", "locust", "-f", LOCUSTFILE, "--headless", "--only-summary",
            "-u", "2", "-r", "2", "-t", "9s", *seed_args,
            "--chaos-profile", str(profile), "--chaos-proxy-api", f"127.0.0.1:{free_port()}",
            "--results-dir", str(results), "--run-id", "seeded", "--sut-pg-dsn", "none",
        ],
        env={
            "CB_TEST_RESULTS_ONLY": "0",
            "CB_TEST_PREFIX": f"{key_prefix}_D",
            "CB_TEST_REDIS_URL": f"redis://127.0.0.1:{route}/0",
            "CHAOSBENCH_LEDGER": str(tmp_path / "ledger.json"),
        },
        name="locust",
    )  # fmt: skip
    wait_until(lambda: proc.popen.poll() is not None, timeout=60)
    out = proc.output()
    assert "Traceback" not in out, out
    data = load(results / "seeded")
    seed = data.meta.seed
    assert isinstance(seed, int), data.meta
    if given is not None:
        assert seed == given
    assert f"seed {seed}" in out  # the scheduler's own log line names the same seed

    ran = _injects(data.journal)
    assert [b for b, *_ in ran] == [1, 2, 3, 4] and all(r.status == "ok" for r in data.journal)
    plan = [
        (s.burst, s.fault.name, s.fault.scenario)
        for s in build_plan(load_profile(str(profile), seed=seed))
        if s.kind == "inject" and s.fault is not None
    ]
    assert [(b, n, sc) for b, n, sc, _ in ran] == plan  # rotation order
    assert all(t is not None for _, n, _, t in ran if n != "slow")
    assert _replay(profile, seed) == ran  # and every fault's generator
    assert _replay(profile, seed + 1) != ran  # (a different seed does change it)
