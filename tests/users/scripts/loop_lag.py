"""With the loop-lag probe running: a PostgreSQL pg_sleep(1), a Redis command held by CLIENT PAUSE
for 1 s, and a stalled WebSocket feed, all at once. Prints the probe's max lag and how long each
blocking operation took (proof that they did block, cooperatively). Args: PG_DSN REDIS_URL PREFIX"""

from _common import emit, make_env, wait_for  # isort: skip

import sys
import time

import gevent
import redis
from feedserver import FeedServer
from locust import task

from chaosbench.users import PostgresUser, RedisUser, WebSocketUser
from chaosbench.users.looplag import LoopLagProbe
from chaosbench.users.options import LoadOptions

pg_dsn, redis_url, prefix = sys.argv[1:4]
server = FeedServer(rate=50).start()


class Feed(WebSocketUser):
    ws_url = server.url

    @task
    def hold(self) -> None:
        pass


class Pg(PostgresUser):
    application_name = f"chaosbench-test-{prefix}"

    @task
    def noop(self) -> None:
        pass


class Kv(RedisUser):
    client_name = f"chaosbench-test-{prefix}"

    @task
    def noop(self) -> None:
        pass


opts = LoadOptions(pg_dsn=pg_dsn, pg_schema=prefix, redis_url=redis_url, redis_prefix=prefix + ":")
env, rec = make_env([Feed, Pg, Kv], opts)
feed, pg, kv = Feed(env), Pg(env), Kv(env)
feed.on_start()
wait_for(lambda: feed.tracker.messages >= 10, what="feed messages")
assert pg.connection() is not None
assert kv.call("SET", lambda r: r.set(kv.key("warm"), b"1", ex=60))
admin = redis.Redis.from_url(redis_url, socket_timeout=5)
delivered_before = len(rec.named("WS", "message quote"))

durations: dict[str, float] = {}


def timed(label: str, fn) -> None:  # type: ignore[no-untyped-def]
    t0 = time.perf_counter()
    fn()
    durations[label] = time.perf_counter() - t0


probe = LoopLagProbe(interval=0.005).start()
gevent.sleep(0.2)
server.stall(1.2)
admin.execute_command("CLIENT", "PAUSE", "1000", "WRITE")
jobs = [
    gevent.spawn(timed, "pg", lambda: pg.execute("sleep", "SELECT pg_sleep(1)")),
    gevent.spawn(timed, "redis", lambda: kv.call("SET", lambda r: r.set(kv.key("p"), b"2", ex=60))),
]
gevent.joinall(jobs, timeout=10)
gevent.sleep(0.6)  # the stalled feed resumes
max_lag = probe.stop()
admin.execute_command("CLIENT", "UNPAUSE")
lat = [e["response_time"] for e in rec.named("WS", "message quote")[delivered_before:]]
failures = [e for e in rec.events if e["exception"]]
feed.on_stop()
pg.execute("drop", f"DROP SCHEMA IF EXISTS {prefix} CASCADE")
pg.drop_connection()
admin.delete(kv.key("warm"), kv.key("p"))
server.stop()
emit(
    {
        "max_lag_ms": max_lag * 1000,
        "samples": probe.samples,
        "pg_s": durations.get("pg"),
        "redis_s": durations.get("redis"),
        "ws_max_delivery_ms": max(lat) if lat else None,
        "failures": [f"{e['request_type']} {e['name']}: {e['exception']}" for e in failures],
    }
)
