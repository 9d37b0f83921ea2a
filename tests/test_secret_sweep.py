"""The secret sweep: a real ``locust`` run with a planted secret in every DSN and URL form the
harness accepts, then every file of the run directory, the console and the log file grepped
for each of them — none may be found.

Planted: the load users' PostgreSQL DSN (URL form) and Redis URL (an unneeded password: this
Redis has none, and redis-py goes on when AUTH says so), the results' PostgreSQL DSN
(key=value form), the InfluxDB URL (``http://user:password@``, nothing listens) and token, and
the DSNs and URLs in the settings of three faults (one that connects, two that are refused).
The InfluxDB console of ``python -m chaosbench.analysis.influx send`` is swept too.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from tests.conftest import PYTHON, Proc, free_port

pytestmark = pytest.mark.slow

SECRETS = [f"PLANTED{i}-{'e' * 3}" for i in range(1, 9)]


def _profile(tmp_path: Path, closed_port: int) -> Path:
    path = tmp_path / "sweep.yaml"
    path.write_text(
        f"""seed: 5
phases: {{warmup: 0s, baseline: 1s, burst_on: 1.5s, burst_off: 1s, bursts: 1, cooldown: 0s}}
faults:
  - name: pg_url_ok
    type: pg_terminate_backends
    dsn: postgresql://postgres:{SECRETS[5]}@127.0.0.1:5432/test
    application_name: chaosbench-sweep-matches-nothing
  - name: pg_kv_refused
    type: pg_connection_exhaustion
    dsn: host=127.0.0.1 port={closed_port} user=postgres password='{SECRETS[6]} x' dbname=test
  - name: redis_refused
    type: redis_client_kill
    url: redis://:{SECRETS[7]}@127.0.0.1:{closed_port}/0
    client_name: chaosbench-sweep-matches-nothing
"""
    )
    return path


@pytest.fixture
def schemas(pg_dsn: str, key_prefix: str) -> Iterator[tuple[str, str]]:
    load, sut = f"{key_prefix}_e_load", f"{key_prefix}_e_sut"
    yield load, sut
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        for schema in (load, sut):
            conn.execute(f"DROP SCHEMA IF EXISTS {schema} CASCADE")


def _leaks(paths: list[Path]) -> list[str]:
    found = []
    for path in paths:
        data = path.read_bytes()
        found += [f"{path.name}: {s}" for s in SECRETS if s.encode() in data]
    return found


def test_no_planted_secret_leaves_the_process(
    tmp_path: Path,
    spawn: Callable[..., Proc],
    key_prefix: str,
    schemas: tuple[str, str],
) -> None:
    closed = free_port()  # nothing listens here: InfluxDB and two faults are refused
    results, log = tmp_path / "runs", tmp_path / "locust.log"
    args = [
        PYTHON, "-m", "locust", "-f", "locustfiles/", "--headless", "-u", "2", "-r", "2",
        "-t", "8s", "--only-summary", "--logfile", str(log),
        "--chaos-profile", str(_profile(tmp_path, closed)),
        "--results-dir", str(results), "--run-id", "sweep",
        "--pg-dsn", f"postgresql://postgres:{SECRETS[0]}@127.0.0.1:5432/test",
        "--pg-schema", schemas[0],
        "--sut-pg-dsn", f"host=127.0.0.1 port=5432 user=postgres dbname=test password={SECRETS[1]}",
        "--sut-pg-schema", schemas[1],
        "--redis-url", f"redis://:{SECRETS[2]}@127.0.0.1:6379/0",
        "--redis-prefix", f"{key_prefix}:e:",
        "--influx-url", f"http://u:{SECRETS[3]}@127.0.0.1:{closed}",
        "--influx-token", SECRETS[4], "--influx-org", "o", "--influx-bucket", "b",
        "--influx-drain-timeout", "1",
        "PgOltpUser", "RedisKvUser",
    ]  # fmt: skip
    proc = spawn(args, name="locust")
    rc = proc.popen.wait(120)
    out = proc.output()
    run_dir = results / "sweep"
    # The run really happened: load on both targets, the faults journaled (one of them failed).
    assert rc in (0, 1, 2) and "Traceback" not in out, out[-3000:]
    assert (run_dir / "meta.json").is_file() and (run_dir / "journal.jsonl").is_file(), out[-3000:]
    journal = (run_dir / "journal.jsonl").read_text()
    assert "pg_kv_refused" in journal and "connection refused" in journal
    assert "postgresql://postgres:***@127.0.0.1:5432/test" in journal
    assert "PG " in out and "REDIS " in out

    sends = []
    for extra in ([], ["--all"]):  # the spool, then the whole run (its line names the URL)
        send = spawn(
            [PYTHON, "-m", "chaosbench.analysis.influx", "send", str(run_dir), *extra,
             "--url", f"http://u:{SECRETS[3]}@127.0.0.1:{closed}", "--token", SECRETS[4],
             "--timeout", "2"],
            name="influx-send",
        )  # fmt: skip
        assert send.popen.wait(60) == 2, send.output()
        sends.append(send)
    assert "undelivered" in sends[0].output(), sends[0].output()
    assert f"http://u:***@127.0.0.1:{closed}: " in sends[1].output(), sends[1].output()

    files = [p for p in run_dir.rglob("*") if p.is_file()]
    assert len(files) >= 5
    leaks = _leaks([*files, proc.log, log, *(p.log for p in sends)])
    assert leaks == [], leaks
