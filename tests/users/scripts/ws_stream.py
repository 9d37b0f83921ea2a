"""WebSocket user against the test feed server: forced disconnect + resume, a skipped sequence
number, a duplicate, a resume the server cannot fill (gap notice), a frozen (dead) peer, and a
few connect cycles. Prints the counters and the reported request names."""

from _common import emit, make_env, wait_for  # isort: skip

import gevent
from feedserver import FeedServer
from locust import task

from chaosbench.ground.state import RunState
from chaosbench.users import WebSocketUser

server = FeedServer(rate=100).start()


class Feed(WebSocketUser):
    ws_url = server.url
    idle_timeout = 1.5
    ping_interval = 0.5
    backoff_base = 0.05
    backoff_cap = 0.3

    @task
    def hold(self) -> None:
        pass


env, rec = make_env([Feed])
user = Feed(env)
user.on_start()
t = user.tracker
out: dict = {}

wait_for(lambda: t.messages >= 50, what="first messages")
# 1. forced disconnect mid-stream: reconnect, complete resume
server.drop_all()
wait_for(lambda: user.reconnects >= 1 and rec.named("WS", "resume"), what="resume after drop")
before = t.messages
wait_for(lambda: t.messages >= before + 50, what="stream after resume")
out["after_drop"] = {
    "gaps": t.gaps,
    "duplicates": t.duplicates,
    "reorders": t.reorders,
    "resume": [e["exception"] for e in rec.named("WS", "resume")],
    "reconnect_ms": [e["response_time"] for e in rec.named("WS", "reconnect")],
}

# 2. a skipped sequence number is a gap
server.skip(1)
before = t.messages
wait_for(lambda: t.messages >= before + 30, what="stream after skip")
out["after_skip"] = {
    "gaps": t.gaps,
    "duplicates": t.duplicates,
    "sequence": [e["exception"] for e in rec.named("WS", "sequence")],
}

# 3. a repeated message is a duplicate
server.repeat_last()
before = t.messages
wait_for(lambda: t.messages >= before + 30, what="stream after repeat")
out["after_repeat"] = {"gaps": t.gaps, "duplicates": t.duplicates}

# 4. a resume the server cannot fill: gap notice, resume reported as incomplete
gaps_before = t.gaps
server.lose_buffer_on_next_connect()
server.drop_all()
wait_for(lambda: len(rec.named("WS", "resume")) >= 2, what="second resume")
out["after_forget"] = {
    "gap_delta": t.gaps - gaps_before,
    "resume": [e["exception"] for e in rec.named("WS", "resume")],
}

# 5. a dead peer (no data, no pongs) is noticed within seconds
reconnects = user.reconnects
disconnects = len(rec.named("WS", "disconnect"))
server.freeze(4.0)
t0 = gevent.get_hub().loop.now()
wait_for(lambda: len(rec.named("WS", "disconnect")) > disconnects, timeout=10, what="dead peer")
out["dead_detect_s"] = gevent.get_hub().loop.now() - t0
wait_for(lambda: user.reconnects > reconnects, timeout=15, what="reconnect after freeze")

# 6. connect cycles
cycles = [user.connect_cycle() for _ in range(5)]
out["cycles_ok"] = sum(cycles)
out["counters"] = {
    "messages": RunState.of(env).counters.ws_messages,
    "gaps": RunState.of(env).counters.ws_gaps,
    "duplicates": RunState.of(env).counters.ws_duplicates,
    "resumes": RunState.of(env).counters.ws_resumes,
}
out["names"] = sorted({e["name"] for e in rec.events})
out["types"] = sorted({e["request_type"] for e in rec.events})
out["deadlines"] = sorted({e["context"]["deadline_ms"] for e in rec.events})
user.on_stop()
server.stop()
emit(out)
