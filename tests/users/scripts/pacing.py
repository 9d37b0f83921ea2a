"""Open versus closed model against an HTTP server that stalls for 1 s in the middle of the run.

The same ApiUser runs once paced (constant arrival rate) and once closed-model; prints the
percentiles of what each recorded. Arg: "paced" or "closed"."""

from _common import emit, make_env, wait_for  # isort: skip

import sys
import time

import gevent
import gevent.pool
from gevent.server import StreamServer
from locust import task

from chaosbench.users import ApiUser
from chaosbench.users.deadlines import parse_deadlines
from chaosbench.users.options import LoadOptions

mode = sys.argv[1]
stall_until = 0.0


RESPONSE = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\nok"


def handle(sock, _addr):  # type: ignore[no-untyped-def]
    """A minimal keep-alive HTTP/1.1 server: one write per response, a stall knob."""
    buf = b""
    while True:
        data = sock.recv(65536)
        if not data:
            return
        buf += data
        while b"\r\n\r\n" in buf:
            _, buf = buf.split(b"\r\n\r\n", 1)
            while time.monotonic() < stall_until:
                gevent.sleep(0.005)
            sock.sendall(RESPONSE)


server = StreamServer(("127.0.0.1", 0), handle)
server.start()


class Api(ApiUser):
    host = f"http://127.0.0.1:{server.server_port}"
    pacing_rate = 40.0 if mode == "paced" else 0.0
    think_time = (0.005, 0.005)

    @task
    def get(self) -> None:
        self.api("GET", "/ping/1", name="/ping/[n]")


env, rec = make_env([Api], LoadOptions(deadlines=parse_deadlines("GET /ping/[n]=250")))
group = gevent.pool.Group()
user = Api(env)
user.start(group)
wait_for(lambda: len(rec.events) >= 40, what="warm-up requests")
stall_until = time.monotonic() + 1.0
gevent.sleep(1.0)
wait_for(lambda: time.monotonic() > stall_until + 1.5, what="after the stall")
user.stop(force=True)
server.stop()

times = sorted(e["response_time"] for e in rec.events)


def pct(p: float) -> float:
    return times[min(len(times) - 1, int(p / 100 * len(times)))]


ctx = rec.events[-1]["context"]
emit(
    {
        "count": len(times),
        "p50": pct(50),
        "p99": pct(99),
        "max": times[-1],
        "over_900": sum(t >= 900 for t in times),
        "types": sorted({e["request_type"] for e in rec.events}),
        "names": sorted({e["name"] for e in rec.events}),
        "failures": sum(1 for e in rec.events if e["exception"]),
        "context": ctx,
        "max_lag_ms": max(e["context"].get("schedule_lag_ms", 0.0) for e in rec.events),
    }
)
