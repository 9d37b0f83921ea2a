"""The end-of-run order check against a real PostgreSQL (own schema per test)."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest

from chaosbench.analysis.integrity_check import build_integrity
from chaosbench.ground.integrity import IntegrityCounters


@pytest.fixture
def orders_schema(pg_dsn: str, key_prefix: str) -> Iterator[str]:
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {key_prefix}")
        conn.execute(
            f"CREATE TABLE {key_prefix}.orders (order_id text PRIMARY KEY, "
            "client_order_id text NOT NULL, qty int)"
        )
    yield key_prefix
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA {key_prefix} CASCADE")


def _insert(pg_dsn: str, schema: str, rows: list[tuple[str, str]]) -> None:
    with psycopg.connect(pg_dsn, autocommit=True) as conn, conn.cursor() as cur:
        cur.executemany(
            f"INSERT INTO {schema}.orders (order_id, client_order_id) VALUES (%s, %s)", rows
        )


def test_counts_lost_duplicated_and_canary(pg_dsn: str, orders_schema: str) -> None:
    c = IntegrityCounters()
    for i in range(50):
        c.order_acknowledged(f"o{i}", f"c{i}")
    stored = [(f"o{i}", f"c{i}") for i in range(50) if i not in (3, 4)]  # o3, o4 lost
    stored.append(("o-dup", "c7"))  # client order c7 stored twice
    stored = [(o, "canary-x" if o == "o9" else cl) for o, cl in stored]  # canary corrupted o9
    _insert(pg_dsn, orders_schema, stored)
    c.canary_applied("o9", "corrupt")
    c.ws_stream(messages=10, gaps=2)
    integ = build_integrity(c, pg_dsn, orders_schema)
    assert integ.checked
    assert integ.orders_acknowledged == 50
    assert integ.orders_lost == 2 and integ.extra["lost_order_ids"] == ["o3", "o4"]
    assert integ.orders_duplicated == 1
    assert integ.orders_stored == 47  # 50 - 2 lost - 1 corrupted
    assert (integ.canary_injected, integ.canary_found) == (1, 1)
    assert (integ.ws_messages, integ.ws_gaps) == (10, 2)


def test_clean_run_has_no_discrepancy(pg_dsn: str, orders_schema: str) -> None:
    c = IntegrityCounters()
    for i in range(20):
        c.order_acknowledged(f"o{i}", f"c{i}")
    _insert(pg_dsn, orders_schema, [(f"o{i}", f"c{i}") for i in range(20)])
    integ = build_integrity(c, pg_dsn, orders_schema)
    assert integ.checked and integ.orders_stored == 20
    assert integ.orders_lost == integ.orders_duplicated == integ.canary_found == 0


def test_unreachable_postgres_is_not_checked_and_says_why() -> None:
    c = IntegrityCounters()
    c.order_acknowledged("o1", "c1")
    from tests.conftest import free_port

    dsn = f"postgresql://postgres:pw@127.0.0.1:{free_port()}/test"
    integ = build_integrity(c, dsn, "sut", timeout_s=2)
    assert integ.checked is False
    assert integ.extra["order_check"].startswith("not checked: postgresql://postgres:***@")


def test_missing_table_is_not_checked(pg_dsn: str, key_prefix: str) -> None:
    c = IntegrityCounters()
    c.order_acknowledged("o1", "c1")
    integ = build_integrity(c, pg_dsn, key_prefix)
    assert integ.checked is False and "does not exist" in integ.extra["order_check"]
