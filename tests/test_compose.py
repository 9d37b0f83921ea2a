"""docker-compose.yml is valid (checked offline by Debian's docker-compose) and complete."""

from __future__ import annotations

import shutil
import subprocess

import pytest
import yaml

from tests.conftest import ROOT

REQUIRED = {
    "influxdb",
    "grafana",
    "toxiproxy",
    "postgres",
    "redis",
    "sut",
    "locust-master",
    "locust-worker",
}


@pytest.fixture(scope="module")
def resolved() -> dict:
    exe = shutil.which("docker-compose")
    assert exe, "docker-compose is not installed (.ci/run installs Debian's docker-compose)"
    out = subprocess.run(
        [exe, "-f", "docker-compose.yml", "config"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    return yaml.safe_load(out.stdout)


def test_compose_has_every_service(resolved: dict) -> None:
    assert REQUIRED <= set(resolved["services"])


def test_grafana_gets_the_provisioning_and_dashboards(resolved: dict) -> None:
    vols = " ".join(str(v) for v in resolved["services"]["grafana"]["volumes"])
    assert "grafana/provisioning" in vols and "grafana/dashboards" in vols
    assert (ROOT / "grafana/provisioning/datasources/influxdb.yaml").is_file()


def test_influxdb_is_initialised_from_the_environment(resolved: dict) -> None:
    env = resolved["services"]["influxdb"]["environment"]
    for key in (
        "DOCKER_INFLUXDB_INIT_ORG",
        "DOCKER_INFLUXDB_INIT_BUCKET",
        "DOCKER_INFLUXDB_INIT_ADMIN_TOKEN",
    ):
        assert env[key], key


def test_sut_reaches_its_dependencies_through_the_fault_proxy(resolved: dict) -> None:
    env = resolved["services"]["sut"]["environment"]
    assert "toxiproxy" in env["SUT_PG_DSN"] and "toxiproxy" in env["SUT_REDIS_URL"]


def test_the_profile_and_options_the_stack_names_exist(resolved: dict) -> None:
    """Every LOCUST_* variable given to the Locust containers is an option the harness
    registers, and the chaos profile it names validates."""
    import re

    from chaosbench.chaos.profile import load_profile

    env = resolved["services"]["locust-master"]["environment"]
    load_profile(str(ROOT / env["LOCUST_CHAOS_PROFILE"]))
    sources = "".join(
        (ROOT / p).read_text()
        for p in (
            "chaosbench/wiring/chaos.py",
            "chaosbench/users/options.py",
            "chaosbench/wiring/results.py",
        )
    )
    registered = set(re.findall(r'env_var="(LOCUST_[A-Z_]+)"', sources)) | {"LOCUST_HOST"}
    assert {k for k in env if k.startswith("LOCUST_")} <= registered
