"""redis_memory_pressure: lower Redis ``maxmemory`` and fill it, so writes fail or keys are evicted.

Inject: reads the original ``maxmemory`` and ``maxmemory-policy``, writes them to the ledger
(persistent fault: a server setting outlives the harness), sets ``maxmemory`` to the memory in
use plus ``headroom_mb`` and the policy to ``policy``, then fills filler keys
``<prefix><token>:<n>`` of ``chunk_kb`` each. With ``noeviction`` (the default) writes then fail
with ``OOM command not allowed when used memory > 'maxmemory'``; with an ``allkeys-*`` or
``volatile-*`` policy keys are evicted instead (server-wide: other users' keys too).

Revert (and ``revert_leftovers`` after a crash): restores ``maxmemory`` and the policy first, then
deletes the filler keys.

Intensity: the share of the headroom filled (1.0: fill until the server refuses, i.e. OOM).
"""

from __future__ import annotations

import secrets
from typing import Any, Literal

import redis
from pydantic import Field

from chaosbench.chaos.faults._common import (
    DEFAULT_REDIS_URL,
    ledger_record,
    ledger_remove,
    redis_connect,
    redis_target,
)
from chaosbench.chaos.faults._settings import RedisUrl
from chaosbench.chaos.faults.base import Fault, FaultSettings, register
from chaosbench.chaos.ledger import LedgerEntry

Policy = Literal[
    "noeviction",
    "allkeys-lru",
    "allkeys-lfu",
    "allkeys-random",
    "volatile-lru",
    "volatile-lfu",
    "volatile-random",
    "volatile-ttl",
]


class RedisMemorySettings(FaultSettings):
    url: RedisUrl = DEFAULT_REDIS_URL
    prefix: str = Field(default="chaosbench:pressure:", pattern=r"^[A-Za-z0-9:_\-]+$")
    headroom_mb: float = Field(default=4.0, gt=0, le=1024)
    policy: Policy = "noeviction"
    chunk_kb: int = Field(default=64, ge=1, le=4096)


def _restore(url: str, undo: dict[str, Any]) -> int:
    """Put the original settings back and delete the filler keys; returns how many were deleted."""
    client = redis_connect(url)
    try:
        if "maxmemory" in undo:
            client.config_set("maxmemory", int(undo["maxmemory"]))
        if "policy" in undo:
            client.config_set("maxmemory-policy", str(undo["policy"]))
        deleted = 0
        if undo.get("filler"):
            batch: list[bytes] = []
            for key in client.scan_iter(match=f"{undo['filler']}*", count=500):
                batch.append(key)
                if len(batch) >= 500:
                    deleted += int(client.unlink(*batch))
                    batch.clear()
            if batch:
                deleted += int(client.unlink(*batch))
        return deleted
    finally:
        client.close()


@register
class RedisMemoryPressure(Fault[RedisMemorySettings]):
    type_name = "redis_memory_pressure"
    Settings = RedisMemorySettings
    persistent = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._undo: dict[str, Any] | None = None
        self.filled_bytes = 0
        self.oom = False
        self.deleted = 0
        self.original: dict[str, Any] = {}

    def targets(self) -> list[str]:
        return [redis_target(self.settings.url)]

    def inject(self) -> None:
        s = self.settings
        client = redis_connect(s.url)
        try:
            original = client.config_get("maxmemory")
            policy = client.config_get("maxmemory-policy")
            used = int(client.info("memory")["used_memory"])
            filler = f"{s.prefix}{secrets.token_hex(4)}:"
            self._undo = {
                "url": s.url,
                "maxmemory": int(original.get("maxmemory") or 0),
                "policy": str(policy["maxmemory-policy"]),
                "filler": filler,
            }
            self.original = {k: v for k, v in self._undo.items() if k != "url"}
            ledger_record(self, self._undo)  # before anything changes
            headroom = int(s.headroom_mb * 1024 * 1024)
            client.config_set("maxmemory-policy", s.policy)
            client.config_set("maxmemory", used + headroom)
            chunk = b"x" * (s.chunk_kb * 1024)
            target = headroom * self.intensity if self.intensity < 1 else headroom * 4
            n = 0
            while self.filled_bytes < target:
                try:
                    client.set(f"{filler}{n}", chunk)
                except redis.ResponseError as exc:
                    oom = isinstance(exc, redis.exceptions.OutOfMemoryError)
                    if not oom and "OOM" not in str(exc):
                        raise
                    self.oom = True
                    break
                n += 1
                self.filled_bytes += len(chunk)
        finally:
            client.close()

    def revert(self) -> None:
        if self._undo is None:
            return
        self.deleted += _restore(self.settings.url, self._undo)
        self._undo = None
        ledger_remove(self)

    @classmethod
    def revert_leftover(cls, entry: LedgerEntry) -> str:
        undo = entry.undo
        url = str(undo.get("url") or entry.settings.get("url") or DEFAULT_REDIS_URL)
        if "maxmemory" not in undo:
            return f"{entry.type} {entry.name!r}: nothing was changed yet"
        deleted = _restore(url, undo)
        return (
            f"reverted {entry.type} {entry.name!r} on {redis_target(url)}: maxmemory "
            f"{undo['maxmemory']}, policy {undo.get('policy')}, {deleted} filler keys deleted"
        )

    def describe(self) -> dict[str, Any]:
        return {
            **super().describe(),
            "filled_bytes": self.filled_bytes,
            "oom": self.oom,
            "original": self.original,
            "deleted": self.deleted,
        }
