"""Load on servers nobody here wrote (bench.outside starts them): a plain nginx, a database
initialised by pgbench, plain Redis; written as a new user would, with chaosbench's users.

    locust -f bench/locustfiles/outside.py --host http://127.0.0.1:<nginx> \
        --pg-dsn postgresql://postgres@127.0.0.1:5432/<pgbench db> \
        --redis-url redis://127.0.0.1:<redis route>/0 --redis-prefix <prefix> ...

Each kind is one user class (HTTP, PG, REDIS), so a fault on one route leaves the other two
kinds as traffic that ran at the same time and was not touched.
"""

import random

from locust import task

import chaosbench.harness  # noqa: F401
from chaosbench.users import ApiUser, PostgresUser, RedisUser

THINK = (0.02, 0.08)
ACCOUNTS = 100_000  # pgbench -i -s 1
KEYS = 2000


class NginxUser(ApiUser):
    think_time = THINK

    @task(3)
    def static(self) -> None:
        self.api("GET", "/", name="/")

    @task(1)
    def small(self) -> None:
        self.api("GET", "/small.json", name="/small.json")


class PgbenchUser(PostgresUser):
    think_time = THINK
    application_name = "chaosbench-outside"

    @task(4)
    def read_account(self) -> None:
        aid = random.randint(1, ACCOUNTS)
        self.execute(
            "select account", "SELECT abalance FROM pgbench_accounts WHERE aid = %s", (aid,)
        )

    @task(1)
    def read_branch(self) -> None:
        bid = random.randint(1, 1)
        self.execute(
            "select branch", "SELECT bbalance FROM pgbench_branches WHERE bid = %s", (bid,)
        )


class PlainRedisUser(RedisUser):
    think_time = THINK
    client_name = "chaosbench-outside"

    @task(3)
    def get(self) -> None:
        self.call("GET", lambda r: r.get(self.key("k", random.randrange(KEYS))))

    @task(1)
    def set(self) -> None:
        value = random.randbytes(64)
        self.call("SET", lambda r: r.set(self.key("k", random.randrange(KEYS)), value, ex=600))
