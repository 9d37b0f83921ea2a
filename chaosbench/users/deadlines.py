"""Per-request deadlines: defaults per kind of request, overridable per kind or per request name.

A deadline is the response time (ms) a request should stay under. It travels in every request
event's ``context["deadline_ms"]``; the recorder counts a miss when ``response_time`` exceeds it.

Spec syntax (``--deadlines`` / ``LOCUST_DEADLINES``): comma-separated ``KEY=MS`` items, where KEY
is a request kind (``HTTP``, ``WS``, ``PG``, ``REDIS``) or an exact request name::

    PG=200,REDIS=50,HTTP=500,WS=1000,POST /api/orders=300
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from chaosbench.ground.errors import OptionError
from chaosbench.ground.text import short_repr

KINDS = ("HTTP", "WS", "PG", "REDIS")

#: Default deadline per kind of request, in milliseconds.
DEFAULT_DEADLINES_MS: dict[str, float] = {"HTTP": 500.0, "WS": 1000.0, "PG": 200.0, "REDIS": 50.0}


@dataclass(frozen=True)
class Deadlines:
    """Deadline lookup: an exact request name wins over its kind, the kind over the default."""

    by_kind: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_DEADLINES_MS))
    by_name: Mapping[str, float] = field(default_factory=dict)

    def for_request(self, request_type: str, name: str) -> float:
        if name in self.by_name:
            return self.by_name[name]
        key = f"{request_type} {name}"
        if key in self.by_name:
            return self.by_name[key]
        return self.by_kind.get(request_type, DEFAULT_DEADLINES_MS.get(request_type, 1000.0))

    def largest(self, request_type: str) -> float:
        """The largest deadline any request of this kind can have (for client-side timeouts)."""
        values = [self.by_kind.get(request_type, DEFAULT_DEADLINES_MS.get(request_type, 1000.0))]
        values += list(self.by_name.values())
        return max(values)


def parse_deadlines(spec: str, where: str = "--deadlines") -> Deadlines:
    """Parse ``KEY=MS,...`` into :class:`Deadlines`; a bad item raises a one-line OptionError."""
    by_kind = dict(DEFAULT_DEADLINES_MS)
    by_name: dict[str, float] = {}
    for raw in (spec or "").split(","):
        item = raw.strip()
        if not item:
            continue
        key, sep, value = item.rpartition("=")
        key = key.strip()
        if not sep or not key:
            raise OptionError(
                f"{where}: {short_repr(item)} is not NAME=MILLISECONDS (in {short_repr(spec)})"
            )
        try:
            ms = float(value)
        except ValueError:
            raise OptionError(
                f"{where}: {short_repr(value.strip())} in {short_repr(item)} "
                "is not a number of milliseconds"
            ) from None
        if not (ms > 0 and math.isfinite(ms)):
            raise OptionError(
                f"{where}: the deadline in {short_repr(item)} must be greater than 0 ms and finite"
            )
        if key.upper() in KINDS:
            by_kind[key.upper()] = ms
        else:
            by_name[key] = ms
    return Deadlines(by_kind=by_kind, by_name=by_name)
