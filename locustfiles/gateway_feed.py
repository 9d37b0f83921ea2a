"""WebSocket load on the reference feed: subscribers that measure delivery latency and stream
integrity (gaps, duplicates, reorders, resumes), plus rapid connect/disconnect cycles."""

import _harness  # noqa: F401
from locust import task

from chaosbench.users import WebSocketUser


class FeedUser(WebSocketUser):
    """Holds one subscription open; now and then opens and closes a second connection."""

    think_time = (1.0, 2.0)
    weight = 1

    @task(9)
    def hold(self) -> None:
        """The receive greenlet does the work; the task only keeps the user alive."""

    @task(1)
    def connect_cycle_task(self) -> None:
        self.connect_cycle()
