"""Reusable, abstract Locust users. Subclass them for your own system.

    from chaosbench.users import ApiUser, WebSocketUser, PostgresUser, RedisUser

- ``ApiUser`` (FastHttpUser): ``self.api(method, path, name=..., expect=..., check=...)``;
- ``WebSocketUser``: a feed subscriber (delivery latency, sequence integrity, reconnect + resume);
- ``PostgresUser``: ``self.execute(name, sql, params)``, ``with self.transaction() as tx``;
- ``RedisUser``: ``self.call(name, lambda r: r.get(self.key("x")))``.

All report request_type HTTP / WS / PG / REDIS with ``deadline_ms`` in the context, and support
open-model pacing (``pacing_rate`` class attribute or ``--pacing-rate``).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from chaosbench.users.api import ApiUser, HttpStatusError
    from chaosbench.users.base import Backoff, LoadUser, Measurement, OperationTimeout
    from chaosbench.users.pacing import Pacer, constant_arrival_rate
    from chaosbench.users.postgres_user import PostgresUser, StatementFailed, Transaction
    from chaosbench.users.redis_user import RedisUser
    from chaosbench.users.stream import SequenceTracker
    from chaosbench.users.websocket_user import FeedMessage, StreamError, WebSocketUser

# Imported on first use, so that ``chaosbench.users.stream`` (pure logic) does not pull in
# Locust and its gevent monkey-patching.
_WHERE = {
    "Pacer": "chaosbench.users.pacing",
    "constant_arrival_rate": "chaosbench.users.pacing",
    "ApiUser": "chaosbench.users.api",
    "HttpStatusError": "chaosbench.users.api",
    "Backoff": "chaosbench.users.base",
    "LoadUser": "chaosbench.users.base",
    "Measurement": "chaosbench.users.base",
    "OperationTimeout": "chaosbench.users.base",
    "PostgresUser": "chaosbench.users.postgres_user",
    "StatementFailed": "chaosbench.users.postgres_user",
    "Transaction": "chaosbench.users.postgres_user",
    "RedisUser": "chaosbench.users.redis_user",
    "SequenceTracker": "chaosbench.users.stream",
    "FeedMessage": "chaosbench.users.websocket_user",
    "StreamError": "chaosbench.users.websocket_user",
    "WebSocketUser": "chaosbench.users.websocket_user",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'chaosbench.users' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


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
