"""ApiUser against the reference system: idempotent placement (the retry with the same key gets
the first answer), rejections that are successes, an accepted bad order that is a failure,
names and contexts as the recorder needs them. Arg: SUT_URL"""

from _common import emit, make_env  # isort: skip

import sys
import uuid

from locust import task

from chaosbench.ground.state import RunState
from chaosbench.users import ApiUser
from chaosbench.users.deadlines import parse_deadlines
from chaosbench.users.options import LoadOptions

url = sys.argv[1]


class Api(ApiUser):
    host = url

    @task
    def noop(self) -> None:
        pass


env, rec = make_env([Api], LoadOptions(host=url, deadlines=parse_deadlines("POST /api/orders=300")))
user = Api(env)
key = uuid.uuid4().hex
order = {"symbol": "BTCUSD", "side": "buy", "quantity": 1, "price": 100.0, "client_order_id": key}
hdrs = {"Idempotency-Key": key, "X-Client-Id": f"t-{key[:8]}"}
first = user.api("POST", "/api/orders", expect=(201,), json=order, headers=hdrs)
again = user.api("POST", "/api/orders", expect=(201,), json=order, headers=hdrs)
out = {
    "first": [first.status_code, first.json().get("order_id")],
    "again": [again.status_code, again.json().get("order_id")],
    "replayed": again.headers.get("Idempotent-Replayed"),
}
RunState.of(env).counters.order_acknowledged(out["first"][1], key)
oid = out["first"][1]
user.api("GET", f"/api/orders/{oid}", name="/api/orders/[id]")
user.api(
    "POST",
    "/api/orders",
    name="/api/orders (malformed json)",
    expect=(400,),
    data="{nope",
    headers={"Content-Type": "application/json"},
)
user.api(
    "POST",
    "/api/orders",
    name="/api/orders (invalid fields)",
    expect=(422,),
    json={**order, "quantity": -1, "client_order_id": uuid.uuid4().hex},
)
# a "malformed" order that the server accepts is a failure
good = {**order, "client_order_id": uuid.uuid4().hex}
user.api(
    "POST",
    "/api/orders",
    name="/api/orders (accepted bad)",
    expect=(422,),
    json=good,
    headers={"Idempotency-Key": good["client_order_id"]},
)
user.api("GET", "/api/quotes/NOPE", name="/api/quotes/[symbol]")
emit(
    {
        **out,
        "events": [
            [
                e["request_type"],
                e["name"],
                e["exception"],
                e["context"].get("deadline_ms"),
                round(e["response_time"], 3) != e["response_time"] or e["response_time"] > 0,
            ]
            for e in rec.events
        ],
        "acked": len(RunState.of(env).counters.acked_orders),
    }
)
