"""The nasty files of the loader fuzz: name -> (bytes, what the one-line error must say).

An expectation of ``None`` means the file is a valid config and must load. Shared by the fuzz
(tests/chaos/test_fuzz_loaders.py) and its command-line and Locust checks.
"""

from __future__ import annotations

from chaosbench.chaos.faults.cpu_hog import CORES
from chaosbench.ground.yamlload import MAX_BYTES
from tests.conftest import ROOT

GOOD_PROFILE = """\
seed: 1
phases: {warmup: 1s, baseline: 2s, burst_on: 1s, burst_off: 1s, bursts: 2, cooldown: 1s}
proxy:
  routes:
    r1: {listen: 127.0.0.1:25432, upstream: 127.0.0.1:6379}
faults:
  - {type: latency, route: r1, latency_ms: 100, intensity: [0.5, 1.0]}
"""

GOOD_GATE = """\
min_samples: 20
criteria:
  p99_ceiling: {limit: 300, phases: [burst]}
  error_rate: {limit: 0.1}
"""


def billion_laughs(levels: int = 9) -> str:
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, levels):
        prev, cur = chr(96 + i), chr(97 + i)
        lines.append(f"{cur}: &{cur} [{','.join([f'*{prev}'] * 9)}]")
    return "\n".join(lines) + "\n"


def _profile(replace: str, by: str) -> bytes:
    assert replace in GOOD_PROFILE
    return GOOD_PROFILE.replace(replace, by, 1).encode()


def _gate(replace: str, by: str) -> bytes:
    assert replace in GOOD_GATE
    return GOOD_GATE.replace(replace, by, 1).encode()


#: Broken the same way for either loader (the message part after the file name).
GENERIC: dict[str, tuple[bytes, str | None]] = {
    "billion_laughs": (billion_laughs().encode(), "more than 20000 nodes"),
    "quadratic_blowup": (
        ('s: &s "' + "x" * 200_000 + '"\nt: [' + ",".join(["*s"] * 90) + "]\n").encode(),
        "more than 20000 nodes",
    ),
    "recursive_alias": (b"a: &a [1, *a]\n", "recursive alias"),
    "too_many_aliases": (
        ("x: &x 1\ny: [" + ",".join(["*x"] * 150) + "]\n").encode(),
        "more than 100 aliases",
    ),
    "deep_flow_10000": (b"a: " + b"[" * 10_000 + b"]" * 10_000 + b"\n", "invalid YAML"),
    "deep_flow_100": (b"a: " + b"[" * 100 + b"]" * 100 + b"\n", "nested deeper than 64"),
    "deep_block_200": (
        "".join(" " * i + f"k{i}:\n" for i in range(200)).encode(),
        "nested deeper than 64",
    ),
    "five_megabytes": (b"description: " + b"x" * (5 << 20) + b"\n", "bigger than the limit"),
    "not_utf8": (b"seed: 1\ndescription: caf\xe9\n", "line 2 (byte 24): not UTF-8"),
    "utf16": ("seed: 1\n".encode("utf-16"), "not UTF-8"),
    "nul_bytes": (b"seed: 1\n\x00\x00\x00\n", "line 2: character '\\x00' is not allowed"),
    "binary": (bytes(range(256)) * 8, "not UTF-8"),
    "control_chars": (b"seed: 1\ndescription: a\x07b\n", "is not allowed in YAML"),
    "top_level_list": (b"- a\n- b\n", "expected a mapping"),
    "top_level_scalar": (b"just words\n", "expected a mapping"),
    "python_tag": (
        b'x: !!python/object/apply:os.system ["echo pwned"]\n',
        "could not determine a constructor",
    ),
    "custom_tag": (b"x: !secret abc\n", "could not determine a constructor"),
    "two_documents": (b"seed: 1\n---\nseed: 2\n", "invalid YAML"),
    "unhashable_key": (b"? [a, b]\n: c\n", "unhashable key"),
    "huge_int": (("seed: " + "9" * 5000 + "\n").encode(), "a number of more than 100 characters"),
    "unclosed_flow": (b"phases: {warmup: 1s\n", "invalid YAML"),
    "tab_indent": (b"phases:\n\twarmup: 1s\n", "invalid YAML"),
    "bad_anchor": (b"a: *nowhere\n", "invalid YAML"),
}

PROFILES: dict[str, tuple[bytes, str | None]] = {
    **GENERIC,
    "good": (GOOD_PROFILE.encode(), None),
    "bundled_default": ((ROOT / "profiles" / "default.yaml").read_bytes(), None),
    "merge_key": (
        GOOD_PROFILE.replace("  - {type: latency", "  - &lat {type: latency").encode()
        + b"  - {<<: *lat, name: lat2, latency_ms: 200}\n",
        None,
    ),
    "empty": (b"", "empty profile"),
    "only_comments": (b"# nothing here\n\n", "empty profile"),
    "empty_mapping": (b"{}\n", "empty profile"),
    "duplicate_top_key": (b"seed: 1\n" + GOOD_PROFILE.encode(), "duplicate key 'seed'"),
    "duplicate_nested_key": (
        _profile("warmup: 1s,", "warmup: 1s, warmup: 2s,"),
        "duplicate key 'warmup'",
    ),
    "inf_duration": (_profile("warmup: 1s", "warmup: .inf"), "is not a finite number"),
    "nan_duration": (_profile("baseline: 2s", "baseline: .nan"), "is not a finite number"),
    "overflow_duration": (_profile("burst_on: 1s", "burst_on: 1.0e+400"), "not a finite number"),
    "overflow_duration_text": (
        _profile("burst_on: 1s", "burst_on: " + "9" * 400 + "s"),
        "phases.burst_on: a duration must be a finite number",
    ),
    "exponent_duration": (_profile("warmup: 1s", "warmup: 1e400"), "expected a duration"),
    "negative_duration": (_profile("warmup: 1s", "warmup: -1s"), "expected a duration"),
    "duration_1e12": (
        _profile("warmup: 1s", "warmup: 1000000000000"),
        "phases.warmup: a duration is at most 24h",
    ),
    "phase_25h": (_profile("baseline: 2s", "baseline: 25h"), "a duration is at most 24h"),
    "bursts_10000_hours": (
        _profile("burst_off: 1s, bursts: 2", "burst_off: 1h, bursts: 10000"),
        "at most 7 days",
    ),
    "bursts_too_many": (_profile("bursts: 2", "bursts: 10001"), "phases.bursts"),
    "fault_start_inf": (
        _profile("latency_ms: 100,", "latency_ms: 100, start: .inf,"),
        "not a finite number",
    ),
    "intensity_nan": (_profile("[0.5, 1.0]", "[.nan, 1.0]"), "not a finite number"),
    "allow_bad_ipv4": (
        b'allow: ["127.0.0.1", "999.1.1.1"]\n' + GOOD_PROFILE.encode(),
        "allow[1]: '999.1.1.1' is not a valid IPv4 address",
    ),
    "allow_short_ipv4": (
        b'allow: ["10.1"]\n' + GOOD_PROFILE.encode(),
        "allow[0]: '10.1' is not a valid IPv4",
    ),
    "cpu_hog_1000": (
        _profile("type: latency, route: r1, latency_ms: 100", "type: cpu_hog, workers: 1000"),
        f"faults[0].workers: workers is at most 2 per core: {2 * CORES}",
    ),
    "process_stop_pid_1": (
        _profile("type: latency, route: r1, latency_ms: 100", "type: process_stop, pid: 1"),
        "faults[0].pid: pid must be more than 1",
    ),
    "process_stop_pid_negative": (
        _profile("type: latency, route: r1, latency_ms: 100", "type: process_stop, pid: -1"),
        "faults[0].pid: pid must be more than 1",
    ),
    "redis_http_url": (
        _profile(
            "type: latency, route: r1, latency_ms: 100",
            "type: redis_client_pause, url: 'http://127.0.0.1:6379'",
        ),
        "faults[0].url: a Redis URL starts with redis://, rediss:// or unix://",
    ),
    "redis_no_scheme": (
        _profile(
            "type: latency, route: r1, latency_ms: 100",
            "type: redis_client_kill, url: '127.0.0.1:6379'",
        ),
        "faults[0].url: a Redis URL starts with",
    ),
    "pg_bad_dsn": (
        _profile(
            "type: latency, route: r1, latency_ms: 100",
            "type: pg_terminate_backends, dsn: 'not a dsn'",
        ),
        "faults[0]: dsn",
    ),
}

GATES: dict[str, tuple[bytes, str | None]] = {
    **GENERIC,
    "good": (GOOD_GATE.encode(), None),
    "bundled_default": ((ROOT / "gates" / "default.yaml").read_bytes(), None),
    "empty": (b"", None),  # an empty gate file: the defaults (documented)
    "duplicate_key": (b"min_samples: 10\n" + GOOD_GATE.encode(), "duplicate key 'min_samples'"),
    "duplicate_nested_key": (
        _gate("{limit: 300,", "{limit: 300, limit: 200,"),
        "duplicate key 'limit'",
    ),
    "min_samples_1e30": (_gate("min_samples: 20", "min_samples: 1.0e+30"), "min_samples"),
    "min_samples_text_1e30": (_gate("min_samples: 20", "min_samples: 1e30"), "min_samples"),
    "min_samples_zero": (_gate("min_samples: 20", "min_samples: 0"), "min_samples"),
    "min_samples_huge": (
        _gate("min_samples: 20", "min_samples: 10000001"),
        "must be from 1 to 10000000 samples, got 10000001",
    ),
    "phases_empty": (_gate("phases: [burst]", "phases: []"), "criteria.p99_ceiling.phases"),
    "limit_inf": (_gate("limit: 300", "limit: .inf"), "is not a finite number"),
    "limit_inf_text": (_gate("limit: 300", "limit: '1e400'"), "finite number"),
    "confidence_nan": (_gate("min_samples: 20", "confidence: .nan"), "is not a finite number"),
    "hold_forever": (
        _gate("criteria:\n", "criteria:\n  recovery_time: {hold_s: 100000000}\n"),
        "criteria.recovery_time.hold_s",
    ),
    "unknown_key": (_gate("min_samples: 20", "min_sample: 20"), "unknown key"),
}


def _at_the_bounds() -> dict[str, tuple[bytes, str | None]]:
    """Valid profiles as big as the bounds allow: they load, within the same time bound."""
    routes = "".join(
        f"    r{i}: {{listen: 127.0.0.1:{20000 + i}, upstream: 127.0.0.1:{30000 + i}}}\n"
        for i in range(256)
    )
    faults = "".join(
        f"  - {{name: f{i}, type: latency, route: r{i % 256}, latency_ms: {i + 1}}}\n"
        for i in range(1000)
    )
    head = "seed: 1\nphases: {bursts: 10000, burst_on: 1s, burst_off: 1s}\nrotation: {}\n"
    return {
        "max_routes_and_faults": (
            (head + "proxy:\n  routes:\n" + routes + "faults:\n" + faults).encode(),
            None,
        ),
        "too_many_routes": (
            (
                "proxy:\n  routes:\n" + routes + "    r256: {listen: 127.0.0.1:1, upstream: "
                "127.0.0.1:2}\n"
            ).encode(),
            "proxy.routes: Dictionary should have at most 256 items",
        ),
        "long_description": (
            b"description: '" + b"x" * (MAX_BYTES - 1000) + b"'\n" + GOOD_PROFILE.encode(),
            None,
        ),
    }


PROFILES.update(_at_the_bounds())
