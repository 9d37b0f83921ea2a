"""Load options: parsing, validation (one-line errors naming the option), DSN masking."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from chaosbench.ground.errors import OptionError, TargetUnreachable
from chaosbench.users.options import (
    LoadOptions,
    load_options,
    mask_dsn,
    options_from_parsed,
    parse_user_mix,
)
from chaosbench.users.targets import check_targets, probe, url_target
from tests.conftest import free_port


@pytest.mark.parametrize(
    ("dsn", "secret"),
    [
        ("postgresql://app:s3cret@db.example:5432/x", "s3cret"),
        ("postgresql://app:s3cret@127.0.0.1/x?sslmode=disable", "s3cret"),
        ("host=127.0.0.1 user=app password=s3cret dbname=x", "s3cret"),
        ("host=127.0.0.1 password='s3 cret' dbname=x", "s3 cret"),
        ("redis://:s3cret@127.0.0.1:6379/0", "s3cret"),
    ],
)
def test_mask_dsn_hides_passwords(dsn: str, secret: str) -> None:
    masked = mask_dsn(dsn)
    assert secret not in masked and "***" in masked
    assert "127.0.0.1" in masked or "db.example" in masked


def test_mask_dsn_leaves_passwordless_dsn_alone() -> None:
    assert mask_dsn("postgresql://postgres@127.0.0.1:5432/test") == (
        "postgresql://postgres@127.0.0.1:5432/test"
    )


def test_options_from_parsed_defaults_and_values() -> None:
    assert options_from_parsed(None) == LoadOptions()
    parsed = SimpleNamespace(
        host="https://gw.local:8443", ws_url="", pg_dsn="postgresql://u@h/db", pg_schema="s1",
        redis_url="redis://h:1/2", redis_prefix="p:", user_mix="A=3, B=1",
        deadlines="PG=10", pacing_rate=5.0,
    )  # fmt: skip
    opts = options_from_parsed(parsed)
    assert opts.feed_url() == "wss://gw.local:8443/ws/feed"
    assert opts.user_mix == {"A": 3, "B": 1}
    assert opts.deadlines.for_request("PG", "x") == 10
    assert opts.pacing_rate == 5.0 and opts.pg_schema == "s1" and opts.redis_prefix == "p:"


@pytest.mark.parametrize(
    ("field", "value", "needle"),
    [
        ("user_mix", "A=x", "--user-mix: weight 'x' of 'A' is not an integer"),
        ("user_mix", "A", "--user-mix: 'A' is not UserClass=WEIGHT"),
        ("user_mix", "A=0", "--user-mix: weight of 'A' must be at least 1"),
        ("pacing_rate", -1.0, "--pacing-rate: -1.0 must be 0"),
        ("pg_schema", "x; drop", "--pg-schema: 'x; drop' is not a plain SQL identifier"),
        ("deadlines", "HTTP=0", "--deadlines: the deadline in 'HTTP=0' must be greater than 0"),
        ("deadlines", "HTTP=inf", "--deadlines: the deadline in 'HTTP=inf' must be greater"),
        ("pacing_rate", "nan", "--pacing-rate: nan must be 0 (closed model) or more, and finite"),
        ("pacing_rate", "inf", "--pacing-rate: inf must be 0 (closed model) or more, and finite"),
        ("user_mix", "A" * 200_000, "--user-mix: 'AAAAAAAAAA"),
    ],
)
def test_bad_options_are_one_line_errors(field: str, value: object, needle: str) -> None:
    with pytest.raises(OptionError) as err:
        options_from_parsed(SimpleNamespace(**{field: value}))
    assert needle in str(err.value) and "\n" not in str(err.value)
    assert len(str(err.value)) < 300  # a huge value is shown shortened
    assert parse_user_mix("") == {}


def test_target_probe_names_the_target_and_address() -> None:
    port = free_port()
    target = url_target("Redis", f"redis://127.0.0.1:{port}/0", "--redis-url", 6379)
    with pytest.raises(TargetUnreachable) as err:
        probe(target, timeout=2)
    assert str(err.value) == (
        f"Redis at 127.0.0.1:{port} is not reachable (connection refused): start a local server "
        "or run make up or set --redis-url"
    )
    with pytest.raises(OptionError, match="--ws-url: WebSocket feed address has no scheme://host"):
        url_target("WebSocket feed", "localhost", "--ws-url", 80)


def test_the_probes_look_where_the_clients_connect(monkeypatch: pytest.MonkeyPatch) -> None:
    """libpq takes the host and port from PGHOST/PGPORT when the DSN names none, and redis-py
    takes ``?host=`` from the query: the reachability probe at test start must look there too
    (it used to probe 127.0.0.1:5432 whatever PGHOST said)."""
    from chaosbench.users.postgres_user import PostgresUser
    from chaosbench.users.redis_user import RedisUser

    for name in ("PGHOST", "PGHOSTADDR", "PGPORT", "PGSERVICE", "PGSERVICEFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("PGHOST", "127.0.0.9")
    monkeypatch.setenv("PGPORT", "6543")
    pg = PostgresUser.targets(LoadOptions(pg_dsn="dbname=x user=y"))
    assert [(t.host, t.port, t.option) for t in pg] == [("127.0.0.9", 6543, "--pg-dsn")]
    # the DSN's own host wins over PGHOST, as in libpq; a Unix socket is this machine: no probe
    pg = PostgresUser.targets(LoadOptions(pg_dsn="host=127.0.0.1 port=5432 dbname=x"))
    assert [(t.host, t.port) for t in pg] == [("127.0.0.1", 5432)]
    assert PostgresUser.targets(LoadOptions(pg_dsn="host=/var/run/postgresql dbname=x")) == []
    redis_ = RedisUser.targets(LoadOptions(redis_url="redis:///0?host=127.0.0.7&port=7001"))
    assert [(t.host, t.port, t.option) for t in redis_] == [("127.0.0.7", 7001, "--redis-url")]
    assert RedisUser.targets(LoadOptions(redis_url="unix:///tmp/r.sock")) == []
    port = free_port()
    monkeypatch.setenv("PGHOST", "127.0.0.1")
    monkeypatch.setenv("PGPORT", str(port))

    class Pg(PostgresUser):
        abstract = True
        pg_dsn = "dbname=x"

    line = check_targets([Pg], LoadOptions())
    assert line is not None and f"127.0.0.1:{port} is not reachable" in line, line


def test_check_targets_stops_at_first_unreachable() -> None:
    port = free_port()

    class Down:
        @classmethod
        def targets(cls, opts: LoadOptions) -> list:
            return [url_target("HTTP API", f"http://127.0.0.1:{port}", "--host", 80)]

    assert check_targets([object, Down], LoadOptions()) is not None
    assert check_targets([object], LoadOptions()) is None


def test_the_environments_host_comes_first() -> None:
    """A worker gets the master's host as ``environment.host`` (its own --host is unset)."""
    worker = SimpleNamespace(
        host="http://127.0.0.1:8001", parsed_options=SimpleNamespace(host=None)
    )
    opts = load_options(worker)
    assert opts.host == "http://127.0.0.1:8001"
    assert opts.feed_url() == "ws://127.0.0.1:8001/ws/feed"
    both = options_from_parsed(SimpleNamespace(host="http://a:1"), host="http://b:2")
    assert both.host == "http://b:2"
    assert options_from_parsed(SimpleNamespace(host="http://a:1")).host == "http://a:1"


def test_the_check_of_a_test_start_runs_once_whoever_asks_first() -> None:
    from tests.conftest import free_port
    from tests.users.conftest import run_script

    out = run_script("preflight_once", str(free_port()))
    assert out["first"].startswith("HTTP API at 127.0.0.1:") and "or set --host" in out["first"]
    n = out["per_check"]
    assert n > 0 and out["same"] and out["asked_first_start"] == n  # the second ask: no check
    assert out["third"] and out["asked_after_stop"] == 2 * n  # checked again after test_stop
    assert out["unreachable"] == out["first"]
    assert out["options_first"]
