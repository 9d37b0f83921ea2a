"""Orders in PostgreSQL: ``<schema>.orders``.

Contract (read by the harness's integrity check): columns ``order_id text primary key``,
``client_order_id text``, ``idempotency_key text unique``, ``created_at timestamptz``.

The first answer to a request is stored with the order (``response_status``, ``response_body``) in
the same transaction, committed before the 201 is sent. A retry with the same Idempotency-Key
finds it through the unique column (so idempotency survives a restart and a Redis outage).
The insert is also idempotent by ``order_id`` (generated before the first attempt), so the pool
may safely re-run it after a dead connection.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass

import psycopg
from psycopg import sql

from chaosbench.sut.backends.pg import PgPool
from chaosbench.sut.orders.validate import NewOrder


@dataclass(frozen=True)
class StoredAnswer:
    order_id: str
    status: int
    body: str
    replayed: bool


_DDL = """
CREATE SCHEMA IF NOT EXISTS {schema};
CREATE TABLE IF NOT EXISTS {schema}.orders (
    order_id         text PRIMARY KEY,
    client_order_id  text NOT NULL,
    idempotency_key  text UNIQUE,
    symbol           text NOT NULL,
    side             text NOT NULL CHECK (side IN ('buy', 'sell')),
    quantity         double precision NOT NULL CHECK (quantity > 0),
    price            double precision NOT NULL CHECK (price > 0),
    status           text NOT NULL,
    created_at       timestamptz NOT NULL DEFAULT now(),
    response_status  smallint NOT NULL,
    response_body    text NOT NULL
);
CREATE INDEX IF NOT EXISTS orders_client_order_id ON {schema}.orders (client_order_id);
"""


class OrderStore:
    def __init__(self, pool: PgPool, schema: str) -> None:
        self.pool = pool
        self.schema = schema
        self.ready = False
        ident = sql.Identifier(schema)
        self._ddl = sql.SQL(_DDL).format(schema=ident)
        self._insert = sql.SQL(
            "INSERT INTO {}.orders (order_id, client_order_id, idempotency_key, symbol, side,"
            " quantity, price, status, created_at, response_status, response_body)"
            " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, to_timestamp(%s), %s, %s)"
            " ON CONFLICT DO NOTHING RETURNING order_id"
        ).format(ident)
        self._by_key = sql.SQL(
            "SELECT order_id, response_status, response_body FROM {}.orders"
            " WHERE idempotency_key = %s"
        ).format(ident)
        self._by_id = sql.SQL(
            "SELECT order_id, response_status, response_body FROM {}.orders WHERE order_id = %s"
        ).format(ident)

    def ensure_schema(self) -> None:
        def ddl(conn: psycopg.Connection) -> None:
            with conn.transaction():
                conn.execute(
                    "SELECT pg_advisory_xact_lock(hashtext(%s))", (f"chaosbench-sut:{self.schema}",)
                )
                conn.execute(self._ddl)

        self.pool.run(ddl, use_breaker=False)
        self.ready = True

    def create(self, order: NewOrder, idempotency_key: str | None) -> StoredAnswer:
        """Store the order and its 201 answer, or return the first answer for this key."""
        order_id = str(uuid.uuid4())
        server_time = time.time()
        body = json.dumps(
            {
                "order_id": order_id,
                "client_order_id": order.client_order_id,
                "symbol": order.symbol,
                "side": order.side,
                "quantity": order.quantity,
                "price": order.price,
                "status": "accepted",
                "server_time": server_time,
            },
            separators=(",", ":"),
        )
        params = (
            order_id,
            order.client_order_id,
            idempotency_key,
            order.symbol,
            order.side,
            order.quantity,
            order.price,
            "accepted",
            server_time,
            201,
            body,
        )

        def insert(conn: psycopg.Connection) -> StoredAnswer:
            # One statement in autocommit mode: its own transaction, committed (and durable,
            # synchronous_commit permitting) before the result comes back - one round trip.
            row = conn.execute(self._insert, params).fetchone()
            if row is not None:
                return StoredAnswer(order_id, 201, body, replayed=False)
            # A conflict: the same key was used before, or this very insert committed on a
            # connection that died before we saw the answer (then order_id matches).
            first = None
            if idempotency_key is not None:
                first = conn.execute(self._by_key, (idempotency_key,)).fetchone()
            if first is None:
                first = conn.execute(self._by_id, (order_id,)).fetchone()
                if first is not None:
                    return StoredAnswer(order_id, 201, body, replayed=False)
                raise psycopg.OperationalError("order insert conflicted but no row was found")
            first_id = str(first[0])
            return StoredAnswer(first_id, int(first[1]), str(first[2]), first_id != order_id)

        return self.pool.run(insert)

    def get(self, order_id: str) -> str | None:
        """The order's JSON document, or None."""
        row = self.pool.run(lambda c: c.execute(self._by_id, (order_id,)).fetchone())
        return None if row is None else str(row[2])
