"""Fixtures for the reference system's tests: a SUT subprocess per module, own schema/prefix."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import PG_DSN, REDIS_URL, Proc, free_port
from tests.sut.helpers import delete_prefix, drop_schema, start_sut


@dataclass
class SutInstance:
    base_url: str
    port: int
    schema: str
    prefix: str
    proc: Proc

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws/feed"


class Launcher:
    """Starts SUT subprocesses and cleans up their processes, schemas and Redis keys."""

    def __init__(self, tmp: Path) -> None:
        self.tmp = tmp
        self.procs: list[Proc] = []
        self.namespaces: list[tuple[str, str]] = []

    def spawn(self, args: list[str], env: dict[str, str] | None = None, name: str = "p") -> Proc:
        proc = Proc(args, self.tmp / f"{name}-{len(self.procs)}.log", env)
        self.procs.append(proc)
        return proc

    def start(
        self,
        extra: list[str] | None = None,
        pg_dsn: str = PG_DSN,
        redis_url: str = REDIS_URL,
        healthy: bool = True,
        namespace: tuple[str, str] | None = None,
    ) -> SutInstance:
        """Start a SUT; ``namespace`` (schema, prefix) reuses an earlier instance's data."""
        if namespace is None:
            tag = uuid.uuid4().hex[:10]
            namespace = (f"cbt_sut_{tag}", f"cbt_sut_{tag}:")
            self.namespaces.append(namespace)
        schema, prefix = namespace
        port = free_port()
        url = start_sut(
            self.spawn, port, pg_dsn, redis_url, schema, prefix, extra or [], healthy=healthy
        )
        return SutInstance(url, port, schema, prefix, self.procs[-1])

    def close(self) -> None:
        for proc in self.procs:
            proc.stop()
        for schema, prefix in self.namespaces:
            drop_schema(PG_DSN, schema)
            delete_prefix(REDIS_URL, prefix)


@pytest.fixture(scope="module")
def launcher(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Launcher]:
    launcher = Launcher(tmp_path_factory.mktemp("sut"))
    yield launcher
    launcher.close()


@pytest.fixture(scope="module")
def sut(launcher: Launcher) -> SutInstance:
    """One SUT for a test module: fast quotes, a small rate limit (tests use own client ids)."""
    return launcher.start(["--quote-rate", "50", "--rate-limit", "30"])


@pytest.fixture
def client_id() -> Callable[[], str]:
    return lambda: f"test-{uuid.uuid4().hex[:8]}"
