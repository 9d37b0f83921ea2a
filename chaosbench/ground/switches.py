"""Process-wide switches that in-process faults set and the load users consult.

The ``pg_slow_queries`` fault does not touch the server: it asks the harness's own PostgreSQL
user to make a share of its queries slow with ``pg_sleep``, as the production report does. The
PostgreSQL load user calls :func:`pg_slow_delay` once per query; when it returns a positive
number of seconds, the user runs ``SELECT pg_sleep(<seconds>)`` in the same transaction/session
before (or as part of) its query, so the time is spent in the server and counts in the sample::

    from chaosbench.ground import switches as hostfaults

    delay = hostfaults.pg_slow_delay()
    if delay:
        cur.execute("SELECT pg_sleep(%s)", (delay,))
    cur.execute(query)

Reading the switch is two float reads and one random draw: cheap, never blocking.
"""

from __future__ import annotations

import random

_share = 0.0
_seconds = 0.0
_rng = random.Random()


def set_pg_slow(share: float, seconds: float, seed: int | None = None) -> None:
    """Make ``share`` (0..1) of the harness's PostgreSQL queries sleep ``seconds`` first."""
    global _share, _seconds
    _share = min(max(float(share), 0.0), 1.0)
    _seconds = max(float(seconds), 0.0)
    if seed is not None:
        _rng.seed(seed)


def clear_pg_slow() -> None:
    set_pg_slow(0.0, 0.0)


def pg_slow_share() -> float:
    """The share of queries to slow down now (0.0 when the fault is not active)."""
    return _share


def pg_slow_seconds() -> float:
    """How long a slowed query sleeps, in seconds."""
    return _seconds


def pg_slow_delay() -> float:
    """Seconds this query should ``pg_sleep`` first: 0.0, or ``pg_slow_seconds()`` for a share of
    calls equal to ``pg_slow_share()``."""
    if _share <= 0.0 or _seconds <= 0.0:
        return 0.0
    return _seconds if _share >= 1.0 or _rng.random() < _share else 0.0
