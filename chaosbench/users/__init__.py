"""Reusable, abstract Locust users. Subclass them for your own system.

    from chaosbench.users import ApiUser, WebSocketUser, PostgresUser, RedisUser

- ``ApiUser`` (FastHttpUser): ``self.api(method, path, name=..., expect=..., check=...)``;
- ``WebSocketUser``: a feed subscriber (delivery latency, sequence integrity, reconnect + resume);
- ``PostgresUser``: ``self.execute(name, sql, params)``, ``with self.transaction() as tx``;
- ``RedisUser``: ``self.call(name, lambda r: r.get(self.key("x")))``.

All report request_type HTTP / WS / PG / REDIS with ``deadline_ms`` in the context, and support
open-model pacing (``pacing_rate`` class attribute or ``--pacing-rate``).
"""

from chaosbench.pacing import Pacer, constant_arrival_rate
from chaosbench.users.api import ApiUser, HttpStatusError
from chaosbench.users.base import Backoff, LoadUser, Measurement, OperationTimeout
from chaosbench.users.postgres_user import PostgresUser, StatementFailed, Transaction
from chaosbench.users.redis_user import RedisUser
from chaosbench.users.stream import SequenceTracker
from chaosbench.users.websocket_user import FeedMessage, StreamError, WebSocketUser

__all__ = [
    "ApiUser",
    "Backoff",
    "FeedMessage",
    "HttpStatusError",
    "LoadUser",
    "Measurement",
    "OperationTimeout",
    "Pacer",
    "PostgresUser",
    "RedisUser",
    "SequenceTracker",
    "StatementFailed",
    "StreamError",
    "Transaction",
    "WebSocketUser",
    "constant_arrival_rate",
]
