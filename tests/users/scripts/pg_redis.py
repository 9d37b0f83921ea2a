"""PostgreSQL and Redis users against the real servers: statements reported by name, a killed
connection leads to a reconnect, statement timeouts from the deadline, a failed transaction rolls
back, a PostgreSQL that is not there is a reported failure and not a dead user.
Args: PG_DSN REDIS_URL PREFIX DEAD_PORT"""

from _common import emit, make_env  # isort: skip

import sys

import psycopg
import redis
from locust import task

from chaosbench.users import PostgresUser, RedisUser
from chaosbench.users.deadlines import parse_deadlines
from chaosbench.users.options import LoadOptions

pg_dsn, redis_url, prefix, dead_port = sys.argv[1:5]
app = f"chaosbench-test-{prefix}"


class Pg(PostgresUser):
    application_name = app
    schema_sql = ("CREATE TABLE IF NOT EXISTS t (id int PRIMARY KEY, v text)",)

    @task
    def noop(self) -> None:
        pass


class Kv(RedisUser):
    client_name = app

    @task
    def noop(self) -> None:
        pass


opts = LoadOptions(
    pg_dsn=pg_dsn,
    pg_schema=prefix,
    redis_url=redis_url,
    redis_prefix=prefix + ":",
    deadlines=parse_deadlines("PG=30,REDIS=40"),
)
env, rec = make_env([Pg, Kv], opts)
pg, kv = Pg(env), Kv(env)
admin = psycopg.connect(pg_dsn, autocommit=True)
out: dict = {}

out["insert"] = pg.execute("insert", "INSERT INTO t VALUES (1, 'a')")
out["read"] = pg.execute("read", "SELECT v FROM t WHERE id = %s", (1,), fetch="one")
out["statement_timeout"] = pg.execute("show", "SHOW statement_timeout", fetch="one")[0]
out["search_path"] = pg.execute("show", "SHOW search_path", fetch="one")[0]
# one cursor for the user's life, statements prepared on their first run
cursor_before = pg.cursor
pg.execute("read", "SELECT v FROM t WHERE id = %s", (1,), fetch="one")
out["same_cursor"] = pg.cursor is cursor_before
out["prepared"] = pg.execute(
    "prepared", "SELECT count(*) FROM pg_prepared_statements", fetch="one"
)[0]
own = admin.execute("SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", (app,))
out["own_backends"] = own.fetchone()[0]

# a killed backend: one failed statement, then a reconnect
admin.execute(
    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = %s", (app,)
)
out["after_kill"] = pg.execute("read", "SELECT v FROM t WHERE id = 1", fetch="one")
out["after_reconnect"] = pg.execute("read", "SELECT v FROM t WHERE id = 1", fetch="one")
connects_before = len(rec.named("PG", "connect"))

# statement timeout from the deadline (30 ms x 10 = 300 ms); the connection survives it
out["slow"] = pg.execute("slow", "SELECT pg_sleep(2)")
out["slow_ms"] = rec.named("PG", "slow")[-1]["response_time"]
out["slow_error"] = rec.named("PG", "slow")[-1]["exception"]
out["after_timeout"] = pg.execute("read", "SELECT v FROM t WHERE id = 1", fetch="one")
out["reconnected_after_timeout"] = len(rec.named("PG", "connect")) > connects_before

# the pg_slow_queries fault's switch (the environment's run state): every statement of this
# user sleeps 0.1 s in the server
from chaosbench.ground.state import RunState  # noqa: E402

switches = RunState.of(env).switches
switches.set_pg_slow(1.0, 0.1)
out["slowed"] = pg.execute("slowed", "SELECT 1", fetch="one")
switches.clear_pg_slow()
out["slowed_ms"] = rec.named("PG", "slowed")[-1]["response_time"]
out["unslowed"] = pg.execute("slowed", "SELECT 1", fetch="one")
out["unslowed_ms"] = rec.named("PG", "slowed")[-1]["response_time"]

# a failed transaction rolls back
with pg.transaction() as tx:
    tx.execute("insert", "INSERT INTO t VALUES (2, 'b')")
    tx.execute("insert dup", "INSERT INTO t VALUES (1, 'dup')")
    tx.execute("never", "SELECT 1")
out["tx_failed"] = tx.failed
out["rows_after_tx"] = pg.execute("count", "SELECT count(*) FROM t", fetch="one")[0]
with pg.transaction() as tx2:
    tx2.execute("insert", "INSERT INTO t VALUES (3, 'c')")
out["tx2_failed"] = tx2.failed
out["rows_after_tx2"] = pg.execute("count", "SELECT count(*) FROM t", fetch="one")[0]

# Redis: commands, a killed connection, reconnect
out["set"] = kv.call("SET", lambda r: r.set(kv.key("a"), b"x", ex=60))
out["get"] = kv.call("GET", lambda r: r.get(kv.key("a")))
radmin = redis.Redis.from_url(redis_url)
mine = [c for c in radmin.client_list() if c.get("name") == app]
out["redis_clients"] = len(mine)
for c in mine:
    radmin.execute_command("CLIENT", "KILL", "ID", c["id"])
first = kv.call("GET", lambda r: r.get(kv.key("a")))
second = kv.call("GET", lambda r: r.get(kv.key("a")))
out["redis_after_kill"] = [first, second]
out["pipelined"] = kv.pipelined("GET x2", lambda p: (p.get(kv.key("a")), p.get(kv.key("a"))))
out["pipelined_length"] = rec.named("REDIS", "GET x2")[-1]["response_length"]
out["redis_failures"] = [
    e["exception"] for e in rec.events if e["request_type"] == "REDIS" and e["exception"]
]
radmin.delete(kv.key("a"))


# a PostgreSQL that is not there: reported failures, the user lives on
class Gone(PostgresUser):
    pg_dsn = f"postgresql://postgres@127.0.0.1:{dead_port}/test"
    backoff_base = 0.01
    backoff_cap = 0.05

    @task
    def noop(self) -> None:
        pass


gone = Gone(env)
out["gone"] = [gone.execute("read", "SELECT 1"), gone.execute("read", "SELECT 1")]
out["gone_connects"] = [e["exception"] is not None for e in rec.named("PG", "connect")][-2:]
out["deadlines"] = {e["request_type"]: e["context"]["deadline_ms"] for e in rec.events}
out["names"] = sorted({f"{e['request_type']} {e['name']}" for e in rec.events})

pg.drop_connection()
admin.execute(f'DROP SCHEMA IF EXISTS "{prefix}" CASCADE')
emit(out)
