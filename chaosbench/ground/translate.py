"""Third-party errors turned into one of ours, once, at a boundary.

Below the boundaries code lets the library's own errors through (psycopg, redis, OSError,
ValueError, ...) or raises one of ours where it adds a fact (which target). The boundaries — the
scheduler's inject and revert, the loaders, the options — call ``translate(exc, where)``:

- a ``ChaosbenchError`` passes through unchanged (never wrapped twice);
- anything else becomes ``cls(f"{where}: {reason(exc)}")``: one line, bounded, secrets masked.

``reason`` knows the usual ways a server does not answer (refused, timed out, a name that does
not resolve, a reset) whether they come as OSError, psycopg or redis errors, and says them the
same way: ``PostgreSQL 127.0.0.1:1: connection refused``. It recognises the libraries by their
module names, so the ground imports neither.
"""

from __future__ import annotations

import errno
import re
import socket

from chaosbench.ground.errors import ChaosbenchError
from chaosbench.ground.redact import redact
from chaosbench.ground.text import one_line, shorten

REFUSED = "connection refused"
TIMED_OUT = "no answer (timed out)"
NO_NAME = "name does not resolve"
RESET = "connection reset by peer"

#: Phrases of libpq / redis-py messages -> how we say them (the first that matches wins).
_PHRASES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"connection refused", re.I), REFUSED),
    (re.compile(r"timeout expired|timed out|timeout connecting", re.I), TIMED_OUT),
    (
        re.compile(
            r"name or service not known|failed to resolve host|could not translate host name"
            r"|nodename nor servname|temporary failure in name resolution",
            re.I,
        ),
        NO_NAME,
    ),
    (re.compile(r"connection reset by peer", re.I), RESET),
)
# libpq: 'connection failed: connection to server at "h", port 5432 failed: FATAL:  <what>'
_LIBPQ_PREFIX = re.compile(r"^(?:connection failed: )?(?:connection to server .*? failed: )?")
_SEVERITY = re.compile(r"^(?:FATAL|ERROR):\s+")


def _os_reason(exc: OSError) -> str:
    if isinstance(exc, socket.gaierror):
        return NO_NAME
    if isinstance(exc, TimeoutError):
        return TIMED_OUT
    if exc.errno == errno.ECONNREFUSED:
        return REFUSED
    if exc.errno == errno.ECONNRESET:
        return RESET
    if exc.strerror:
        where = f" ({exc.filename})" if exc.filename else ""
        return f"{exc.strerror[:1].lower()}{exc.strerror[1:]}{where}"
    return one_line(exc)


def reason(exc: BaseException) -> str:
    """Why ``exc`` happened, in one bounded line without the library's boilerplate."""
    if isinstance(exc, ChaosbenchError):
        return one_line(exc)
    if isinstance(exc, OSError):
        return _os_reason(exc)
    module = type(exc).__module__.split(".")[0]
    if module in ("psycopg", "psycopg_pool", "redis"):
        text = shorten(str(exc), 1000)
        for pattern, said in _PHRASES:
            if pattern.search(text):
                return said
        if module.startswith("psycopg"):
            text = _SEVERITY.sub("", _LIBPQ_PREFIX.sub("", text))
            return shorten(text) or type(exc).__name__
        return one_line(exc)
    return one_line(exc)


def translate(
    exc: BaseException, where: str, cls: type[ChaosbenchError] = ChaosbenchError
) -> ChaosbenchError:
    """``exc`` unchanged when it is one of ours, else ``cls("<where>: <reason>")`` (redacted)."""
    if isinstance(exc, ChaosbenchError):
        return exc
    prefix = f"{where}: " if where else ""
    return cls(redact(f"{prefix}{reason(exc)}"))


def error_line(exc: BaseException, where: str = "") -> str:
    """The one line a boundary journals, logs or prints for ``exc``: translated, redacted."""
    return redact(one_line(translate(exc, where)))
