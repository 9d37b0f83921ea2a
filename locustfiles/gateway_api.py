"""HTTP load on the reference order gateway: place orders (idempotency keys, retry of a timed-out
placement with the same key), read them back, read quotes, and a small share of malformed orders
that must be rejected (400/422)."""

import random
import uuid
from collections import deque

import _harness  # noqa: F401
from locust import task
from locust.contrib.fasthttp import ResponseContextManager

from chaosbench.ground.state import RunState
from chaosbench.users import ApiUser

SYMBOLS = ("BTCUSD", "ETHUSD", "SOLUSD")
PRICES = {"BTCUSD": 60000.0, "ETHUSD": 3000.0, "SOLUSD": 150.0}


def _accepted_order(resp: ResponseContextManager) -> str | None:
    try:
        body = resp.json()
    except ValueError:
        return "201 without a JSON body"
    if not isinstance(body, dict) or not body.get("order_id"):
        return "201 without an order_id"
    return None


def _rejected(resp: ResponseContextManager) -> str | None:
    try:
        resp.json()
    except ValueError:
        return f"rejection {resp.status_code} without a JSON error body"
    return None


class OrderApiUser(ApiUser):
    """A trading client: mostly quotes and orders, some reads, 1 task in 11 a malformed order."""

    think_time = (0.2, 0.8)
    placement_retries = 2
    weight = 3

    def on_start(self) -> None:
        super().on_start()
        self.client_id = f"cb-{uuid.uuid4().hex[:12]}"
        self.order_ids: deque[str] = deque(maxlen=200)

    def _headers(self, key: str | None = None) -> dict[str, str]:
        headers = {"X-Client-Id": self.client_id}
        if key:
            headers["Idempotency-Key"] = key
        return headers

    @task(4)
    def quote(self) -> None:
        symbol = random.choice(SYMBOLS)
        self.api(
            "GET", f"/api/quotes/{symbol}", name="/api/quotes/[symbol]", headers=self._headers()
        )

    @task(3)
    def place_order(self) -> None:
        symbol = random.choice(SYMBOLS)
        client_order_id = uuid.uuid4().hex
        order = {
            "symbol": symbol,
            "side": random.choice(("buy", "sell")),
            "quantity": round(random.uniform(0.01, 2.0), 4),
            "price": round(PRICES[symbol] * random.uniform(0.98, 1.02), 2),
            "client_order_id": client_order_id,
        }
        key = client_order_id
        name = "/api/orders"
        for _attempt in range(1 + self.placement_retries):
            resp = self.api(
                "POST",
                "/api/orders",
                name=name,
                expect=(201,),
                check=_accepted_order,
                json=order,
                headers=self._headers(key),
            )
            if resp.status_code == 201:
                try:
                    order_id = str(resp.json()["order_id"])
                except (ValueError, KeyError, TypeError):
                    return
                RunState.of(self.environment).counters.order_acknowledged(order_id, client_order_id)
                self.order_ids.append(order_id)
                return
            if resp.status_code == 429:
                self._respect_retry_after(resp)
            if resp.status_code not in (0, 502, 503, 504):
                return  # a definite answer: do not retry
            name = "/api/orders (retry)"  # same key: the server must not place it twice

    @task(2)
    def read_order(self) -> None:
        if not self.order_ids:
            return
        order_id = random.choice(self.order_ids)
        self.api("GET", f"/api/orders/{order_id}", name="/api/orders/[id]", headers=self._headers())

    @task(1)
    def health(self) -> None:
        self.api("GET", "/health")

    @task(1)
    def malformed_order(self) -> None:
        if random.random() < 0.5:
            self.api(
                "POST",
                "/api/orders",
                name="/api/orders (malformed json)",
                expect=(400,),
                check=_rejected,
                data='{"symbol": "BTCUSD", "side": ',
                headers={**self._headers(uuid.uuid4().hex), "Content-Type": "application/json"},
            )
        else:
            bad = {
                "symbol": "BTCUSD",
                "side": "hold",
                "quantity": -1,
                "price": 0,
                "client_order_id": uuid.uuid4().hex,
            }
            self.api(
                "POST",
                "/api/orders",
                name="/api/orders (invalid fields)",
                expect=(422,),
                check=_rejected,
                json=bad,
                headers=self._headers(uuid.uuid4().hex),
            )

    def _respect_retry_after(self, resp: ResponseContextManager) -> None:
        import gevent

        try:
            delay = float(resp.headers.get("Retry-After", "1"))
        except ValueError:
            delay = 1.0
        gevent.sleep(min(max(delay, 0.0), 5.0))
