"""Checks of fault settings that would otherwise fail only at inject time (not a fault: the name
starts with _). Used as pydantic field types/validators in the faults' ``Settings``, so that a
profile is refused at validation with the bound in its one line.
"""

from __future__ import annotations

import os
from typing import Annotated
from urllib.parse import parse_qs, urlsplit

from pydantic import AfterValidator

#: Linux's largest ``pid_max``: a pid above it cannot exist.
PID_MAX = 4_194_304
REDIS_SCHEMES = ("redis", "rediss", "unix")


def check_pid(pid: int | None) -> int | None:
    """A pid a fault may signal: > 1, at most PID_MAX, not this process nor its parent."""
    if pid is None:
        return None
    if pid <= 1:
        raise ValueError(f"pid must be more than 1 (never init, never negative), got {pid}")
    if pid > PID_MAX:
        raise ValueError(f"pid must be at most {PID_MAX} (Linux's largest pid_max), got {pid}")
    if pid in (os.getpid(), os.getppid()):
        raise ValueError(f"pid {pid} is the harness itself (or its parent)")
    return pid


def check_redis_url(url: str) -> str:
    """A URL redis-py connects with: ``redis://host[:port][/db]``, ``rediss://...`` or
    ``unix:///path``; the message never repeats the URL (it may hold a password)."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    if scheme not in REDIS_SCHEMES:
        got = f"scheme {scheme + '://'!r}" if scheme else "no scheme"
        raise ValueError(f"a Redis URL starts with redis://, rediss:// or unix:// ({got})")
    if scheme == "unix":
        if not parts.path or parts.path == "/":
            raise ValueError("a unix:// Redis URL needs a socket path (unix:///path/to/socket)")
        return url
    try:
        port = parts.port
    except ValueError:
        raise ValueError("the Redis URL's port is not a number from 1 to 65535") from None
    if not parts.hostname and "host" not in parse_qs(parts.query):  # redis-py reads ?host= too
        raise ValueError(f"the Redis URL has no host ({scheme}://HOST:PORT/DB)")
    if port == 0:
        raise ValueError("the Redis URL's port is not a number from 1 to 65535")
    db = parts.path.lstrip("/")
    if db and not (db.isdigit() and int(db) < 1 << 16):
        raise ValueError("the Redis URL's path is a database number (e.g. /0)")
    return url


#: ``pid`` of the process faults and the ``url`` of the Redis faults.
Pid = Annotated[int | None, AfterValidator(check_pid)]
RedisUrl = Annotated[str, AfterValidator(check_redis_url)]
