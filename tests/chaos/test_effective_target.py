"""The effective target: the allowlist checks where libpq and redis-py would really connect
(environment, service files, host lists, ``?host=``, names resolved), at validation, without
connecting. 192.0.2.0/24 is TEST-NET-1: never connected to."""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

import pytest

from chaosbench.chaos.faults._common import pg_targets
from chaosbench.ground.endpoints import pg_endpoints, redis_endpoint, resolve_host, split_endpoint
from chaosbench.ground.errors import FaultError
from tests.conftest import PYTHON, ROOT

PG_ENV = ("PGHOST", "PGHOSTADDR", "PGPORT", "PGSERVICE", "PGSERVICEFILE", "PGSYSCONFDIR")

PROFILE = """
seed: 1
phases: {{warmup: 1s, baseline: 1s, burst_on: 1s, burst_off: 1s, bursts: 1, cooldown: 1s}}
allow: {allow}
faults:
  - {{name: kill, type: {type}, {key}: {value!r}}}
"""


def validate(
    tmp_path: Path,
    value: str,
    env: dict[str, str],
    *,
    type: str = "pg_terminate_backends",
    key: str = "dsn",
    allow: str = "[127.0.0.1, localhost, '::1']",
) -> subprocess.CompletedProcess[str]:
    profile = tmp_path / "p.yaml"
    profile.write_text(PROFILE.format(allow=allow, type=type, key=key, value=value))
    clean = {k: v for k, v in os.environ.items() if k not in PG_ENV}
    clean["HOME"] = str(tmp_path)  # no ~/.pg_service.conf of the machine
    clean["PGSYSCONFDIR"] = str(tmp_path / "no-sysconf")
    return subprocess.run(
        [PYTHON, "-m", "chaosbench.chaos", "validate", str(profile)],
        cwd=ROOT, capture_output=True, text=True, timeout=60, env={**clean, **env},
    )  # fmt: skip


def refused(out: subprocess.CompletedProcess[str], *needles: str) -> str:
    assert out.returncode == 2, (out.stdout, out.stderr)
    assert "Traceback" not in out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


@pytest.mark.parametrize(
    ("env", "effective"),
    [
        ({"PGHOST": "192.0.2.1"}, "'192.0.2.1:5432'"),
        ({"PGHOSTADDR": "192.0.2.1"}, "'192.0.2.1:5432'"),
        ({"PGHOST": "127.0.0.1", "PGHOSTADDR": "192.0.2.1", "PGPORT": "6543"}, "'192.0.2.1:6543'"),
    ],
    ids=["PGHOST", "PGHOSTADDR", "PGHOSTADDR-wins"],
)
def test_a_dsn_without_host_is_checked_where_libpq_goes(
    tmp_path: Path, env: dict[str, str], effective: str
) -> None:
    line = refused(validate(tmp_path, "dbname=test", env), effective, "not on the allowlist")
    assert line.startswith(f"chaosbench: {tmp_path / 'p.yaml'}: faults[0] (kill): target")


def test_hostaddr_in_the_dsn_wins_over_its_host(tmp_path: Path) -> None:
    out = validate(tmp_path, "host=127.0.0.1 hostaddr=192.0.2.1 dbname=test", {})
    refused(out, "'192.0.2.1:5432'")


def test_every_host_of_a_list_must_be_allowed(tmp_path: Path) -> None:
    refused(validate(tmp_path, "host=127.0.0.1,192.0.2.1 port=5432,5433", {}), "'192.0.2.1:5433'")
    uri = "postgresql://127.0.0.1:5432,192.0.2.1:5432/test"
    refused(validate(tmp_path, uri, {}), "'192.0.2.1:5432'")


def test_a_service_is_read_from_the_service_file(tmp_path: Path) -> None:
    services = tmp_path / "services.conf"
    services.write_text(
        "# chaosbench test\n[other]\nhost=127.0.0.1\n\n[x]\nhost = 192.0.2.1\nport=5444\n"
    )
    env = {"PGSERVICEFILE": str(services)}
    refused(validate(tmp_path, "service=x dbname=test", env), "'192.0.2.1:5444'")
    # PGSERVICE names it as well; a host in the DSN wins over the service's.
    refused(validate(tmp_path, "dbname=test", {**env, "PGSERVICE": "x"}), "'192.0.2.1:5444'")
    ok = validate(tmp_path, "service=x host=127.0.0.1", env)
    assert ok.returncode == 0, ok.stderr
    # The service file wins over the environment, as in libpq.
    out = validate(tmp_path, "service=x", {**env, "PGHOST": "127.0.0.1"})
    refused(out, "'192.0.2.1:5444'")
    # A service nobody defines is refused, as libpq refuses it.
    refused(validate(tmp_path, "service=nope", env), 'service "nope" not found')


def test_a_system_service_file_counts(tmp_path: Path) -> None:
    sysconf = tmp_path / "sysconf"
    sysconf.mkdir()
    (sysconf / "pg_service.conf").write_text("[x]\nhostaddr=192.0.2.9\n")
    out = validate(tmp_path, "service=x", {"PGSYSCONFDIR": str(sysconf)})
    refused(out, "'192.0.2.9:5432'")


def test_allowed_effective_targets_validate_without_connecting(tmp_path: Path) -> None:
    """PGHOST/PGPORT pointing at a socket this test listens on: allowed, and nobody connects."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        port = listener.getsockname()[1]
        env = {"PGHOST": "127.0.0.1", "PGPORT": str(port)}
        out = validate(tmp_path, "dbname=test", env)
        assert out.returncode == 0, out.stderr
        out = validate(tmp_path, f"redis://127.0.0.1:{port}/0", {}, type="redis_client_pause",
                       key="url")  # fmt: skip
        assert out.returncode == 0, out.stderr
        listener.setblocking(False)
        with pytest.raises(BlockingIOError):
            listener.accept()  # validation made no connection


def test_redis_url_host_in_the_query_counts(tmp_path: Path) -> None:
    # redis-py takes ?host= when the URL names no host.
    out = validate(tmp_path, "redis://?host=192.0.2.1", {}, type="redis_client_pause", key="url")
    refused(out, "'192.0.2.1:6379'")


def test_redis_name_resolving_off_the_allowlist_is_refused(tmp_path: Path) -> None:
    # localhost resolves to 127.0.0.1 on this machine; the list allows only 127.0.0.2.
    assert "127.0.0.1" in resolve_host("localhost")
    out = validate(tmp_path, "redis://localhost:6379/0", {}, type="redis_client_pause",
                   key="url", allow="['127.0.0.2']")  # fmt: skip
    refused(out, "'localhost:6379'", "localhost resolves to 127.0.0.1")


def test_proxy_upstream_name_resolving_off_the_allowlist_is_refused(tmp_path: Path) -> None:
    profile = tmp_path / "r.yaml"
    profile.write_text(
        "allow: ['127.0.0.2']\n"
        "proxy: {routes: {redis: {listen: '127.0.0.2:26379', upstream: 'localhost:6379'}}}\n"
    )
    out = subprocess.run(
        [PYTHON, "-m", "chaosbench.chaos", "validate", str(profile)],
        cwd=ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    refused(out, "proxy.routes.redis.upstream: 'localhost:6379'", "resolves to 127.0.0.1")


def test_endpoints(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in PG_ENV:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("PGSYSCONFDIR", str(tmp_path))
    assert pg_endpoints("dbname=test") == ["local:default socket"]
    assert pg_endpoints("host=/var/run/postgresql") == ["local:/var/run/postgresql"]
    assert pg_endpoints("host=::1 port=1") == ["[::1]:1"]
    assert pg_endpoints("host=a,b port=7") == ["a:7", "b:7"]
    monkeypatch.setenv("PGPORT", "6000")
    assert pg_endpoints("host=127.0.0.1") == ["127.0.0.1:6000"]
    with pytest.raises(ValueError, match="could not match 3 port numbers to 2 hosts"):
        pg_endpoints("host=a,b port=1,2,3")
    with pytest.raises(FaultError, match="could not match 3 port numbers to 2 hosts"):
        pg_targets("host=a,b port=1,2,3")  # a fault's setting: the chaos side's own error
    assert split_endpoint("[::1]:7000") == ("::1", 7000)
    assert split_endpoint("a:7") == ("a", 7)
    assert split_endpoint("local:/tmp/r.sock") is None
    assert redis_endpoint("unix:///tmp/r.sock") == "local:/tmp/r.sock"
    assert redis_endpoint("redis://:pw@/0") == "localhost:6379"
    assert redis_endpoint("rediss://[::1]:7000") == "[::1]:7000"


def test_lookup_is_bounded() -> None:
    with pytest.raises(OSError, match=r"does not resolve|did not answer"):
        resolve_host("no-such-host.invalid", timeout=5.0)
