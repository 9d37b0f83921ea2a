"""The main job (`make run`) says which server is missing, where, and how to get it."""

from __future__ import annotations

import subprocess

import pytest

from chaosbench import bundled
from chaosbench.chaos.profile import load_profile, parse_profile
from chaosbench.wiring.reference_sut import targets
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


def test_the_remedy_names_no_file_outside_the_repository() -> None:
    out = run_mainjob("--pg-dsn", f"postgresql://postgres@127.0.0.1:{free_port()}/test")
    assert out.returncode == 2
    assert "apt-get install postgresql" in out.stderr
    assert "SERVICES.md" not in out.stderr and "../" not in out.stderr


@pytest.mark.parametrize(
    ("args", "wanted"),
    [
        (["--users", "many"], "--users: 'many' is not a whole number"),
        (["--sut-port", "70000"], "--sut-port: 70000 is not between 1 and 65535"),
        (["--proxy-api", "8474"], "--proxy-api: '8474' is not host:port"),
        (["--gate", "no-such-gate"], "--gate no-such-gate: no such file, nor a bundled gate"),
        (["--profile", "no-such-profile"], "no-such-profile: cannot read"),
        (["--bogus"], "unrecognized arguments: --bogus"),
    ],
)
def test_bad_flags_are_one_line_and_exit_2(args: list[str], wanted: str) -> None:
    out = run_mainjob(*args)
    assert out.returncode == 2
    assert out.stderr.count("\n") == 1, out.stderr
    assert wanted in out.stderr and "Traceback" not in out.stderr


def test_the_default_profile_routes_the_reference_system_and_locust() -> None:
    profile = load_profile(bundled.default_profile())
    to = targets(profile, "postgresql://postgres@127.0.0.1:5432/test", "redis://127.0.0.1/0", 8000)
    assert to.sut_pg_dsn == "postgresql://postgres@127.0.0.1:15432/test"
    assert to.sut_redis_url == "redis://127.0.0.1:16379/0"
    assert to.host == "http://127.0.0.1:18000"
    assert to.notes == ()


def test_a_server_without_a_route_is_reached_directly_and_said_so() -> None:
    profile = parse_profile("enabled: true\nallow: [127.0.0.1]\nfaults: []\n", "p.yaml")
    to = targets(profile, "postgresql://u:pw@127.0.0.1:5433/db", "redis://127.0.0.1:6380/1", 9001)
    assert to.sut_pg_dsn == "postgresql://u:pw@127.0.0.1:5433/db"
    assert to.sut_redis_url == "redis://127.0.0.1:6380/1"
    assert to.host == "http://127.0.0.1:9001"
    assert [n.split(" at ")[0] for n in to.notes] == [
        "no route to PostgreSQL",
        "no route to Redis",
        "no route to the reference system",
    ]


def test_a_route_keeps_the_user_and_database_of_the_dsn() -> None:
    profile = parse_profile(
        "enabled: true\nallow: [127.0.0.1, localhost]\nproxy:\n  routes:\n"
        "    pg: {listen: 127.0.0.1:25432, upstream: localhost:5433}\n",
        "p.yaml",
    )
    to = targets(profile, "postgresql://u:pw@127.0.0.1:5433/db?sslmode=disable", "redis://x", 1)
    assert to.sut_pg_dsn == "postgresql://u:pw@127.0.0.1:25432/db?sslmode=disable"
