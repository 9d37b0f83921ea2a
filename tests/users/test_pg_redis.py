"""PostgreSQL and Redis users against the real servers (own schema / key prefix)."""

from __future__ import annotations

import pytest

from tests.conftest import free_port
from tests.users.conftest import run_script


@pytest.fixture(scope="module")
def r(pg_dsn: str, redis_url: str) -> dict:
    import uuid

    return run_script(
        "pg_redis", pg_dsn, redis_url, f"cbt_{uuid.uuid4().hex[:10]}", str(free_port())
    )


def test_statements_by_name_in_own_schema(r: dict) -> None:
    assert r["insert"] == 1 and r["read"] == ["a"]
    assert r["search_path"].startswith("cbt_")
    assert r["own_backends"] == 1
    for name in ("PG insert", "PG read", "PG commit", "PG connect", "REDIS GET", "REDIS SET"):
        assert name in r["names"]
    assert r["deadlines"] == {"PG": 30.0, "REDIS": 40.0}


def test_one_cursor_per_user_and_prepared_statements(r: dict) -> None:
    assert r["same_cursor"] is True
    assert r["prepared"] >= 2  # the statements run so far on this connection, prepared


def test_killed_backend_leads_to_reconnect(r: dict) -> None:
    assert r["after_kill"] is None  # the statement on the dead connection failed (reported)
    assert r["after_reconnect"] == ["a"]


def test_statement_timeout_from_deadline(r: dict) -> None:
    assert r["statement_timeout"] == "300ms"  # 10 x the 30 ms PG deadline
    assert r["slow"] is None and "statement timeout" in r["slow_error"]
    assert 250 <= r["slow_ms"] < 1500
    assert r["after_timeout"] == ["a"] and r["reconnected_after_timeout"] is False


def test_failed_transaction_rolls_back(r: dict) -> None:
    assert r["tx_failed"] is True and r["rows_after_tx"] == 1
    assert r["tx2_failed"] is False and r["rows_after_tx2"] == 2
    assert "PG never" not in r["names"]  # the block ended at the failed statement


def test_redis_commands_and_reconnect_after_kill(r: dict) -> None:
    assert r["set"] is True and r["get"] == "b'x'"
    assert r["redis_clients"] == 1  # the user's one connection, named, was killed
    assert r["redis_after_kill"][-1] == "b'x'"
    assert len(r["redis_failures"]) <= 1


def test_redis_pipeline_is_one_request(r: dict) -> None:
    assert r["pipelined"] == ["b'x'", "b'x'"]
    assert r["pipelined_length"] == 2
    assert "REDIS GET x2" in r["names"]


def test_unreachable_postgres_is_a_reported_failure_not_a_dead_user(r: dict) -> None:
    assert r["gone"] == [None, None]
    assert r["gone_connects"] == [True, True]


def test_pg_slow_queries_switch_slows_the_users_statements_in_the_server(r: dict) -> None:
    assert r["slowed"] == [1] and r["unslowed"] == [1]
    assert r["slowed_ms"] >= 100  # pg_sleep(0.1) ran before the statement, in the same sample
    assert r["unslowed_ms"] < 100


def test_pg_user_without_schema_sql_creates_no_schema(pg_dsn: str) -> None:
    import uuid

    import psycopg

    schema = f"cbn_{uuid.uuid4().hex[:10]}"
    query = "SELECT count(*) FROM information_schema.schemata WHERE schema_name = %s"
    with psycopg.connect(pg_dsn, autocommit=True) as admin:
        before = admin.execute(query, (schema,)).fetchone()
        try:
            out = run_script("pg_no_schema", pg_dsn, schema)
            after = admin.execute(query, (schema,)).fetchone()
        finally:
            admin.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    assert before == after == (0,)
    assert out["read"] == [1] and out["failures"] == []
    assert out["search_path"] == f"{schema},public"
