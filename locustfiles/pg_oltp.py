"""PostgreSQL OLTP load in its own schema: an order insert in a transaction, reads by key,
updates, and a short aggregate, each statement reported by name."""

import random
from collections import deque

import _harness  # noqa: F401
from locust import task

from chaosbench.users import PostgresUser

SYMBOLS = ("BTCUSD", "ETHUSD", "SOLUSD")


class PgOltpUser(PostgresUser):
    think_time = (0.2, 0.8)
    weight = 1
    schema_sql = (
        """CREATE TABLE IF NOT EXISTS load_orders (
               id bigserial PRIMARY KEY,
               account int NOT NULL,
               symbol text NOT NULL,
               quantity int NOT NULL,
               price numeric(18, 2) NOT NULL,
               created_at timestamptz NOT NULL DEFAULT now())""",
        "CREATE INDEX IF NOT EXISTS load_orders_created ON load_orders (created_at)",
        """CREATE TABLE IF NOT EXISTS load_events (
               id bigserial PRIMARY KEY,
               order_id bigint NOT NULL,
               kind text NOT NULL,
               at timestamptz NOT NULL DEFAULT now())""",
    )

    def on_start(self) -> None:
        super().on_start()
        self.ids: deque[int] = deque(maxlen=500)

    @task(3)
    def insert_order(self) -> None:
        with self.transaction() as tx:
            row = tx.execute(
                "insert order",
                "INSERT INTO load_orders (account, symbol, quantity, price) "
                "VALUES (%s, %s, %s, %s) RETURNING id",
                (
                    random.randint(1, 1000),
                    random.choice(SYMBOLS),
                    random.randint(1, 100),
                    round(random.uniform(1, 1000), 2),
                ),
                fetch="one",
            )
            tx.execute(
                "insert event",
                "INSERT INTO load_events (order_id, kind) VALUES (%s, 'new')",
                (row[0],),
            )
        if not tx.failed and row:
            self.ids.append(int(row[0]))

    @task(4)
    def read_order(self) -> None:
        if self.ids:
            self.execute(
                "read order",
                "SELECT * FROM load_orders WHERE id = %s",
                (random.choice(self.ids),),
                fetch="one",
            )

    @task(2)
    def update_order(self) -> None:
        if self.ids:
            self.execute(
                "update order",
                "UPDATE load_orders SET quantity = quantity + 1 WHERE id = %s",
                (random.choice(self.ids),),
            )

    @task(1)
    def aggregate(self) -> None:
        self.execute(
            "aggregate",
            "SELECT symbol, count(*), sum(quantity) FROM load_orders "
            "WHERE created_at > now() - interval '10 seconds' GROUP BY symbol",
            fetch="all",
        )
