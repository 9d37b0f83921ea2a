"""Redis load on its own key prefix: GET, SET (with expiry), INCR, and a pipeline."""

import random

import _harness  # noqa: F401
from locust import task

from chaosbench.users import RedisUser

KEYS = 5000
TTL = 600


class RedisKvUser(RedisUser):
    think_time = (0.1, 0.5)
    weight = 1

    @task(5)
    def get(self) -> None:
        self.call("GET", lambda r: r.get(self.key("k", random.randrange(KEYS))))

    @task(3)
    def set(self) -> None:
        value = random.randbytes(random.randint(16, 256))
        self.call("SET", lambda r: r.set(self.key("k", random.randrange(KEYS)), value, ex=TTL))

    @task(2)
    def incr(self) -> None:
        key = self.key("ctr", random.randrange(100))

        def op(r):  # type: ignore[no-untyped-def]
            pipe = r.pipeline(transaction=False)
            pipe.incr(key)
            pipe.expire(key, TTL)
            return pipe.execute()

        self.call("INCR", op)

    @task(1)
    def pipeline(self) -> None:
        keys = [self.key("k", random.randrange(KEYS)) for _ in range(10)]

        def op(r):  # type: ignore[no-untyped-def]
            pipe = r.pipeline(transaction=True)
            for k in keys:
                pipe.get(k)
            pipe.set(self.key("last"), b"1", ex=TTL)
            return pipe.execute()

        self.call("pipeline", op)
