"""Load on the reference system for the live noise tests (tests/analysis/test_live_noise.py):
quote reads (HTTP, one Redis GET each in the system: the route the faults act on) and a
PostgreSQL user straight to the database (PG: traffic the Redis faults do not touch, the control
cohort of the quote reads)."""

import random

from locust import task

import chaosbench.harness  # noqa: F401
from chaosbench.users import ApiUser, PostgresUser

THINK = (0.02, 0.08)
SYMBOLS = ("BTCUSD", "ETHUSD", "SOLUSD")


class QuoteUser(ApiUser):
    think_time = THINK
    weight = 2

    @task
    def quote(self) -> None:
        symbol = random.choice(SYMBOLS)
        self.api("GET", f"/api/quotes/{symbol}", name="/api/quotes/[symbol]")


class PlainPgUser(PostgresUser):
    think_time = THINK
    application_name = "chaosbench-live-noise"

    @task
    def select(self) -> None:
        self.execute("select", "SELECT %s::int + 1", (random.randrange(1000),))
