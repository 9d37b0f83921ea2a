"""A PostgreSQL user without schema SQL connects and runs its statements in an existing schema
(``public`` through the search_path) and creates nothing: its own schema is never created.
Args: PG_DSN SCHEMA"""

from _common import emit, make_env  # isort: skip

import sys

from locust import task

from chaosbench.users import PostgresUser
from chaosbench.users.options import LoadOptions

pg_dsn, schema = sys.argv[1:3]


class Reader(PostgresUser):
    application_name = f"chaosbench-test-{schema}"

    @task
    def noop(self) -> None:
        pass


env, rec = make_env([Reader], LoadOptions(pg_dsn=pg_dsn, pg_schema=schema))
user = Reader(env)
out: dict = {"read": user.execute("read", "SELECT 1", fetch="one")}
out["search_path"] = user.execute("show", "SHOW search_path", fetch="one")[0]
out["failures"] = [e["exception"] for e in rec.events if e["exception"]]
user.drop_connection()
emit(out)
