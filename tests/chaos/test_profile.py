"""Profile validation: every problem is one line naming the file and the field."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from chaosbench.chaos.profile import (
    DEFAULT_PROFILE,
    PROFILES_DIR,
    format_duration,
    load_profile,
    parse_duration,
    parse_profile,
)
from chaosbench.chaos.schedule import build_plan, cut_phases
from chaosbench.ground.errors import AllowlistError, ChaosbenchError, ProfileError
from tests.conftest import PYTHON, ROOT

BASE = """
seed: 1
phases: {warmup: 1s, baseline: 2s, burst_on: 1s, burst_off: 1.5s, bursts: 3, cooldown: 500ms}
proxy:
  routes:
    r1: {listen: 127.0.0.1:25432, upstream: 127.0.0.1:6379}
    api: {listen: 127.0.0.1:25433, upstream: 127.0.0.1:8000, protocol: http}
faults:
  - {type: latency, route: r1, latency_ms: 100, intensity: [0.1, 0.5, 1.0]}
  - {name: api_429, type: http_error, route: api, status: 429, rate: 0.3, bursts: [3]}
"""


def error_of(text: str) -> str:
    with pytest.raises(ChaosbenchError) as info:
        parse_profile(text, "p.yaml")
    msg = str(info.value)
    assert "\n" not in msg
    assert msg.startswith("p.yaml: ")
    return msg


def test_valid_profile_resolves_envelope() -> None:
    p = parse_profile(BASE, "p.yaml")
    lat, err = p.faults
    assert (lat.name, lat.bursts, lat.intensities) == ("latency_r1", (1, 2, 3), (0.1, 0.5, 1.0))
    assert lat.settings.latency_ms == 100  # type: ignore[attr-defined]
    assert (err.bursts, err.intensities, err.duration) == ((3,), (1.0,), 1.0)
    assert p.phases.total == pytest.approx(1 + 2 + 3 * 2.5 + 0.5)


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (("latency_ms: 100", "latency_ms: -1"), "faults[0].latency_ms: Input should be greater"),
        (
            ("latency_ms: 100", "latncy_ms: 100"),
            "faults[0].latncy_ms: unknown key (did you mean 'latency_ms'?)",
        ),
        (
            ("type: latency", "type: latncy"),
            "faults[0].type: unknown fault type 'latncy' (did you mean 'latency'?)",
        ),
        (("bursts: 3,", "burts: 3,"), "phases.burts: unknown key (did you mean 'bursts'?)"),
        (("seed: 1", "sead: 1"), "sead: unknown key (did you mean 'seed'?)"),
        (("bursts: [3]", "burst: [3]"), "faults[1].burst: unknown key (did you mean 'bursts'?)"),
        (("burst_on: 1s", "burst_on: 1x"), "phases.burst_on: expected a duration like 10s"),
        (
            ("bursts: [3]", "bursts: [4]"),
            "faults[1].bursts[0]: burst 4 does not exist (phases.bursts: 3)",
        ),
        (("[0.1, 0.5, 1.0]", "[0.1, 0.5]"), "faults[0].intensity: a ramp of 2 values needs"),
        (
            ("[0.1, 0.5, 1.0]", "[0.1, 0.5, 1.5]"),
            "faults[0].intensity: intensity must be between 0 and 1",
        ),
        (
            ("25433", "25432"),
            "proxy.routes.api.listen: 127.0.0.1:25432 overlaps proxy.routes.r1.listen",
        ),
        (
            ("upstream: 127.0.0.1:8000", "upstream: 127.0.0.1:25432"),
            "proxy.routes.r1.listen: 127.0.0.1:25432 is also proxy.routes.api.upstream",
        ),
        (
            ("route: api", "route: apx"),
            "faults[1].route: no proxy route 'apx' (did you mean 'api'?)",
        ),
        (
            ("route: api", "route: r1"),
            "faults[1].route: fault type 'http_error' needs a route with protocol http",
        ),
        (
            ("listen: 127.0.0.1:25432", "listen: 127.0.0.1:99999"),
            "proxy.routes.r1.listen: expected host:port",
        ),
        (
            ("latency, route: r1,", "latency, route: r1, duration: 2s,"),
            "faults[0].duration: 2s from start 0s ends after the burst",
        ),
        (
            ("{type: latency", "{name: api_429, type: latency"),
            "faults[1].name: duplicate fault name 'api_429'",
        ),
    ],
)
def test_one_clear_line_per_problem(edit: tuple[str, str], expected: str) -> None:
    old, new = edit
    assert old in BASE
    msg = error_of(BASE.replace(old, new, 1))
    assert expected in msg, msg


def test_target_outside_allowlist_is_refused() -> None:
    text = BASE.replace("upstream: 127.0.0.1:6379", "upstream: 10.20.30.40:6379")
    with pytest.raises(
        AllowlistError, match=r"proxy.routes.r1.upstream: '10.20.30.40:6379' is not on"
    ):
        parse_profile(text, "p.yaml")
    # A CIDR entry lets it through.
    p = parse_profile("allow: [127.0.0.1, 10.0.0.0/8]\n" + text, "p.yaml")
    assert p.allowlist.allows("10.20.30.40:6379") and not p.allowlist.allows("11.0.0.1")
    # A server fault whose own target is outside the allowlist.
    server = BASE + "  - {type: redis_client_pause, url: 'redis://192.168.1.9:6379/0'}\n"
    with pytest.raises(AllowlistError, match=r"faults\[2\] \(redis_client_pause\): target"):
        parse_profile(server, "p.yaml")


def test_bad_yaml_and_missing_file(tmp_path: Path) -> None:
    assert "p.yaml: line 1: invalid YAML" in error_of("phases: [1")
    with pytest.raises(ProfileError, match=r"nope.yaml: cannot read"):
        load_profile(tmp_path / "nope.yaml")


def test_durations() -> None:
    assert parse_duration("10s") == 10 and parse_duration("2m") == 120
    assert parse_duration("500ms") == 0.5 and parse_duration("1m30s") == 90
    assert parse_duration(3) == 3.0 and parse_duration("1.5") == 1.5
    for bad in ("10x", "s", "", "-1s", True):
        with pytest.raises(ValueError):
            parse_duration(bad)
    assert format_duration(90) == "1m30s" and format_duration(0.25) == "250ms"


def test_rotation_is_seeded() -> None:
    text = """
phases: {warmup: 0, baseline: 1s, burst_on: 1s, burst_off: 1s, bursts: 9, cooldown: 0}
rotation: {order: shuffle}
proxy: {routes: {r1: {listen: 127.0.0.1:25432, upstream: 127.0.0.1:6379}}}
faults:
  - {scenario: a, name: a, type: latency, route: r1, latency_ms: 10}
  - {scenario: b, name: b, type: stall, route: r1}
  - {scenario: c, name: c, type: reset_peer, route: r1}
"""

    def order(seed: int) -> list[str]:
        p = parse_profile(text, "p.yaml", seed=seed)
        by_burst = {b: f.name for f in p.faults for b in f.bursts}
        return [by_burst[b] for b in range(1, 10)]

    assert order(5) == order(5)
    assert len({tuple(order(s)) for s in range(8)}) > 1  # the seed matters
    for seq in (order(5), order(6)):  # every cycle fires each scenario once
        for i in range(0, 9, 3):
            assert sorted(seq[i : i + 3]) == ["a", "b", "c"]
    sequential = parse_profile(text.replace("shuffle", "sequential"), "p.yaml", seed=5)
    assert [f.bursts for f in sequential.faults] == [(1, 4, 7), (2, 5, 8), (3, 6, 9)]
    with pytest.raises(ProfileError, match=r"faults\[0\].bursts: not allowed with rotation"):
        parse_profile(text.replace("name: a,", "name: a, bursts: [1],"), "p.yaml")


def test_plan_edges_and_cut_phases() -> None:
    p = parse_profile(BASE, "p.yaml")
    plan = build_plan(p)
    phases = [(s.at, s.label) for s in plan if s.kind == "phase"]
    assert phases[:4] == [(0.0, "warmup"), (1.0, "baseline"), (3.0, "burst1"), (4.0, "recovery1")]
    assert phases[-1] == (10.5, "cooldown") and plan[-1].kind == "end" and plan[-1].at == 11.0
    injects = [s for s in plan if s.kind == "inject"]
    reverts = [s for s in plan if s.kind == "revert"]
    assert len(injects) == len(reverts) == 4
    assert cut_phases(p, 5.0) == ["recovery1 (partly)", "burst2", "recovery2", "burst3",
                                  "recovery3", "cooldown"]  # fmt: skip
    assert cut_phases(p, 60) == []


@pytest.mark.parametrize("path", sorted(PROFILES_DIR.glob("*.yaml")), ids=lambda p: p.name)
def test_bundled_profiles_validate(path: Path) -> None:
    p = load_profile(path)
    assert p.faults and p.phases.bursts >= 3
    assert all(f.bursts for f in p.faults), "every fault fires in some burst"


def test_market_maker_has_its_duty_cycle_and_scenarios() -> None:
    p = load_profile("market-maker")
    assert (p.phases.burst_on, p.phases.burst_off) == (30, 90)
    assert len(p.scenarios()) >= 10
    assert sorted(b for f in p.faults for b in f.bursts) == list(range(1, p.phases.bursts + 1))
    assert DEFAULT_PROFILE.exists()


def test_cli_validate_and_plan(tmp_path: Path) -> None:
    ok = subprocess.run(
        [PYTHON, "-m", "chaosbench.chaos", "plan", "profiles/default.yaml", "--run-time", "1m"],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    assert "burst1" in ok.stdout and "cuts: burst2 (partly)" in ok.stdout
    bad = tmp_path / "bad.yaml"
    bad.write_text(BASE.replace("type: latency", "type: latncy"))
    out = subprocess.run(
        [PYTHON, "-m", "chaosbench.chaos", "validate", str(bad)],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert out.returncode == 2
    assert out.stderr.strip() == (
        f"chaosbench: {bad}: faults[0].type: unknown fault type 'latncy' (did you mean 'latency'?)"
    )


# -- bounds: nothing silently accepted (issue 12, item 8) ---------------------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "p.yaml: empty profile"),
        ("# only a comment\n", "p.yaml: empty profile"),
        ("{}", "p.yaml: empty profile"),
        ("seed: 1\nseed: 2\n", "p.yaml: line 2: duplicate key 'seed' (first at line 1)"),
        ("phases: {warmup: .inf}", "p.yaml: line 1: '.inf' is not a finite number"),
        ("phases: {warmup: .nan}", "p.yaml: line 1: '.nan' is not a finite number"),
        ("phases: {warmup: 1.0e+400}", "p.yaml: line 1: '1.0e+400' is not a finite number"),
        ("phases: {warmup: 1000000000000}", "phases.warmup: a duration is at most 24h (86400s)"),
        ("phases: {baseline: 24h1s}", "phases.baseline: a duration is at most 24h"),
        (
            "phases: {burst_on: 1h, burst_off: 0s, bursts: 10000}",
            "phases: the whole profile runs 10000h50s; at most 7 days (604800s",
        ),
        ('allow: ["999.1.1.1"]', "allow[0]: '999.1.1.1' is not a valid IPv4 address or network"),
    ],
)
def test_bounds_are_refused_with_the_bound(text: str, expected: str) -> None:
    assert expected in error_of(text)


def test_a_whole_profile_of_seven_days_is_accepted() -> None:
    p = parse_profile(
        "phases: {warmup: 0s, baseline: 0s, burst_on: 12h, burst_off: 12h, bursts: 7, "
        "cooldown: 0s}",
        "p.yaml",
    )
    assert p.phases.total == 7 * 24 * 3600


@pytest.mark.parametrize(
    ("fault", "expected"),
    [
        ("{type: cpu_hog, workers: 1000}", "faults[0].workers: workers is at most 2 per core"),
        ("{type: process_stop, pid: 1}", "faults[0].pid: pid must be more than 1"),
        ("{type: process_stop, pid: -1}", "faults[0].pid: pid must be more than 1"),
        ("{type: process_stop, pid: 5000000}", "faults[0].pid: pid must be at most 4194304"),
        (
            "{type: redis_client_pause, url: 'http://127.0.0.1:6379'}",
            "faults[0].url: a Redis URL starts with redis://, rediss:// or unix:// "
            "(scheme 'http://')",
        ),
        ("{type: redis_memory_pressure, url: '127.0.0.1'}", "url: a Redis URL starts with"),
        ("{type: redis_client_kill, url: 'redis://:6379/0'}", "url: the Redis URL has no host"),
        ("{type: redis_client_kill, url: 'redis://127.0.0.1/x'}", "a database number"),
        ("{type: redis_client_kill, url: 'unix://'}", "needs a socket path"),
        ("{type: pg_lock_contention, dsn: 'x', table: t}", "faults[0]: dsn"),
    ],
)
def test_settings_that_fail_only_at_inject_are_refused_at_validation(
    fault: str, expected: str
) -> None:
    text = "phases: {bursts: 1}\nfaults:\n  - " + fault
    assert expected in error_of(text)


def test_the_harness_pid_is_refused_at_validation() -> None:
    import os

    fault = f"{{type: process_stop, pid: {os.getpid()}}}"
    msg = error_of(f"phases: {{bursts: 1}}\nfaults:\n  - {fault}")
    assert f"pid {os.getpid()} is the harness itself" in msg


def test_file_bounds(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    big.write_bytes(b"description: " + b"x" * (2 << 20))
    with pytest.raises(ProfileError, match=r"big.yaml: bigger than the limit of 1048576 bytes"):
        load_profile(big)
    latin = tmp_path / "latin.yaml"
    latin.write_bytes(b"seed: 1\ndescription: caf\xe9\n")
    with pytest.raises(ProfileError, match=r"latin.yaml: line 2 \(byte 24\): not UTF-8"):
        load_profile(latin)
