"""Installed: the built wheel in a fresh virtual environment, used from a project of its own.

The wheel is built from a copy of the sources (nothing is written into the checkout) and
installed with its dependencies (from the machine's configured package indexes) into a new
venv. The working directory has its own ``analysis/`` and ``chaos/`` packages that raise when
imported: the installed tool must never import a top-level module of those names. There,
``chaosbench validate`` finds a bundled profile by name, a user's own locustfile that imports
``chaosbench.harness`` loads, and a short ``chaosbench run`` (free ports, its own PostgreSQL
schemas and Redis prefixes) ends in a verdict with a report under the working directory's runs/.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
import redis

from tests.conftest import PG_DSN, PYTHON, REDIS_URL, ROOT, free_port

pytestmark = pytest.mark.slow

SOURCES = ("pyproject.toml", "setup.py", "README.md", "chaosbench", "profiles", "gates",
           "locustfiles")  # fmt: skip
BUNDLED = ("profiles", "gates", "locustfiles")
SHADOW = 'raise ImportError("the project\'s own {name}/ package was imported by chaosbench")\n'


@dataclass(frozen=True)
class Installed:
    venv: Path
    wheel: Path
    project: Path

    @property
    def bin(self) -> Path:
        return self.venv / "bin"

    def env(self, **extra: str) -> dict[str, str]:
        """The environment of a user of the venv: nothing points at the checkout."""
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
        env["PATH"] = f"{self.bin}{os.pathsep}{env.get('PATH', '')}"
        env["VIRTUAL_ENV"] = str(self.venv)
        return {**env, **extra}

    def run(
        self, *args: str, timeout: float = 60, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.bin / args[0]), *args[1:]],
            cwd=self.project,
            env=env or self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def record(self) -> list[str]:
        """The installed files, from the distribution's RECORD (paths relative to site-packages)."""
        (record,) = self.venv.glob("lib/python*/site-packages/chaosbench-*.dist-info/RECORD")
        return [line.split(",")[0] for line in record.read_text().splitlines() if line]


def _check(cmd: list[str], timeout: float) -> None:
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    assert out.returncode == 0, f"{' '.join(cmd)}:\n{out.stdout[-2000:]}{out.stderr[-4000:]}"


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Installed:
    tmp = tmp_path_factory.mktemp("install")
    src = tmp / "src"
    src.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, src / name, ignore=ignore)
        else:
            shutil.copy2(ROOT / name, src / name)
    dist = tmp / "dist"
    # Built in isolation: setuptools as pyproject.toml asks, not whatever this venv has.
    _check([PYTHON, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(dist), str(src)], 180)
    (wheel,) = dist.glob("chaosbench-*.whl")
    venv = tmp / "venv"
    _check([PYTHON, "-m", "venv", str(venv)], 120)
    _check([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", str(wheel)], 300)
    project = tmp / "project"
    for name in ("analysis", "chaos"):
        (project / name).mkdir(parents=True)
        (project / name / "__init__.py").write_text(SHADOW.format(name=name))
    return Installed(venv, wheel, project)


def test_the_installed_files_are_chaosbench_and_its_bundled_files(installed: Installed) -> None:
    files = installed.record()
    top = {f.split("/")[0] for f in files if not f.startswith("..")}
    assert not top & {"chaos", "analysis", "sut", "profiles", "gates", "locustfiles"}, top
    assert {t for t in top if not t.endswith(".dist-info")} == {"chaosbench"}, top
    for folder in BUNDLED:
        wanted = {
            f"chaosbench/bundled/{folder}/{p.name}"
            for p in (ROOT / folder).iterdir()
            if p.suffix in (".yaml", ".py")
        }
        assert wanted and wanted <= set(files), sorted(wanted - set(files))
    assert any(f.endswith("bin/chaosbench") for f in files)  # the console script


def test_validate_a_bundled_profile_outside_the_checkout(installed: Installed) -> None:
    where = installed.run("python", "-c", "import chaosbench; print(chaosbench.__file__)")
    assert where.returncode == 0, where.stderr
    assert where.stdout.startswith(str(installed.venv)), where.stdout  # not the checkout's
    for name in ("default", "market-maker"):
        out = installed.run("chaosbench", "validate", name)
        assert out.returncode == 0, out.stderr
        assert out.stdout.startswith(f"{name}: ok ("), out.stdout
    helped = installed.run("chaosbench", "--help")
    assert helped.returncode == 0
    for command in ("run", "validate", "plan", "analyze", "reset", "proxy", "sut"):
        assert f"\n  {command} " in helped.stdout, helped.stdout
    bad = installed.run("chaosbench", "validate", "no-such-profile")
    assert bad.returncode == 2
    assert bad.stderr.count("\n") == 1 and "no-such-profile" in bad.stderr, bad.stderr


def test_a_users_own_locustfile_imports_the_harness(installed: Installed) -> None:
    (installed.project / "my_locustfile.py").write_text(
        "import chaosbench.harness  # noqa: F401\n"
        "from locust import HttpUser, task\n\n\n"
        "class Mine(HttpUser):\n"
        "    @task\n"
        "    def home(self) -> None:\n"
        "        self.client.get('/')\n"
    )
    out = installed.run("locust", "-f", "my_locustfile.py", "--list")
    assert out.returncode == 0, out.stderr[-4000:]
    assert "Mine" in out.stdout, out.stdout


@pytest.fixture
def names() -> Iterator[str]:
    """PostgreSQL schemas and Redis prefixes of this test alone, dropped after."""
    name = f"cbt_c_{uuid.uuid4().hex[:10]}"
    yield name
    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        for schema in (name, f"{name}_load"):
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
    r = redis.Redis.from_url(REDIS_URL)
    for key in r.scan_iter(f"{name}*", count=1000):
        r.delete(key)


def test_a_short_run_to_a_verdict_in_the_working_directory(
    installed: Installed, names: str
) -> None:
    pg, rd, api, sut, proxy_api = (free_port() for _ in range(5))
    (installed.project / "short.yaml").write_text(
        "enabled: true\nseed: 7\nallow: [127.0.0.1]\n"
        "phases: {warmup: 2s, baseline: 6s, burst_on: 4s, burst_off: 4s, bursts: 1, cooldown: 1s}\n"
        "proxy:\n  routes:\n"
        f"    sut_pg: {{listen: 127.0.0.1:{pg}, upstream: 127.0.0.1:5432}}\n"
        f"    sut_redis: {{listen: 127.0.0.1:{rd}, upstream: 127.0.0.1:6379}}\n"
        f"    api: {{listen: 127.0.0.1:{api}, upstream: 127.0.0.1:{sut}, protocol: http}}\n"
        "faults:\n  - {name: pg_latency, type: latency, route: sut_pg, latency_ms: 50}\n"
    )
    env = installed.env(
        SUT_PG_SCHEMA=names,
        SUT_REDIS_PREFIX=f"{names}:",
        LOCUST_PG_SCHEMA=f"{names}_load",
        LOCUST_REDIS_PREFIX=f"{names}_load:",
    )
    out = installed.run(
        "chaosbench", "run", "--profile", "short.yaml", "--sut-port", str(sut),
        "--proxy-api", f"127.0.0.1:{proxy_api}", "--users", "4", timeout=180, env=env,
    )  # fmt: skip
    text = out.stdout + out.stderr
    assert out.returncode in (0, 1), text[-4000:]
    assert "Traceback" not in text, text[-4000:]
    runs = installed.project / "runs"
    run_dirs = [p for p in runs.iterdir() if p.is_dir()]
    assert len(run_dirs) == 1, sorted(runs.iterdir())
    report = run_dirs[0] / "report.md"
    assert report.is_file(), sorted(run_dirs[0].iterdir())
    assert f"exit code {out.returncode}" in out.stdout
    assert (runs / "sut.log").is_file() and (runs / "proxy.log").is_file()


def test_an_installed_run_records_no_revision_of_the_users_repository(
    installed: Installed,
) -> None:
    """The venv inside a git repository of the user's: that revision is not chaosbench's."""
    repo = installed.venv.parent
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t"]
    if not (repo / ".git").exists():
        _check([*git, "init", "-q"], 30)
        _check([*git, "commit", "-q", "--allow-empty", "-m", "the user's project"], 30)
    code = "from chaosbench.analysis.rundir.meta import git_revision; print(git_revision())"
    out = installed.run("python", "-c", code)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "None"
