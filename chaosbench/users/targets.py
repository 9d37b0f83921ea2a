"""Reachability of the load users' targets, probed once at test start."""

from __future__ import annotations

import errno
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from chaosbench.ground.errors import OptionError

_HINT = "start a local server or run make up"


@dataclass(frozen=True)
class Target:
    """A server a user class talks to: what it is (``PostgreSQL``), where, and which option."""

    label: str
    host: str
    port: int
    option: str

    @property
    def address(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"


def url_target(label: str, url: str, option: str, default_port: int) -> Target:
    """A Target from a URL (http, ws, redis, postgresql); a malformed one is an OptionError."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise OptionError(f"{option}: {label} address is malformed ({exc})") from None
    if not parts.scheme or not parts.hostname:
        raise OptionError(f"{option}: {label} address has no scheme://host")
    return Target(label, parts.hostname, port or default_port, option)


def probe(target: Target, timeout: float = 3.0) -> str | None:
    """None when a TCP connection opens, else a one-line reason (cooperative under gevent)."""
    try:
        with socket.create_connection((target.host, target.port), timeout=timeout):
            return None
    except TimeoutError:
        reason = f"no answer within {timeout:g} s"
    except socket.gaierror as exc:
        reason = f"name does not resolve: {exc.strerror}"
    except OSError as exc:
        if exc.errno == errno.ECONNREFUSED:
            reason = "connection refused"
        else:
            reason = exc.strerror or type(exc).__name__
    return (
        f"{target.label} at {target.address} is not reachable ({reason}): {_HINT} "
        f"or set {target.option}"
    )


def check_targets(user_classes: Iterable[type], opts: object) -> str | None:
    """Probe every distinct target of the given user classes; the first problem, or None.

    ``opts`` (the run's ``LoadOptions``) is only handed to each class's ``targets(opts)``; this
    module does not import ``chaosbench.users.options``, which imports it.
    """
    seen: set[tuple[str, int]] = set()
    for cls in user_classes:
        getter = getattr(cls, "targets", None)
        if getter is None:
            continue
        try:
            targets = getter(opts)
        except OptionError as exc:
            return str(exc)
        for target in targets:
            key = (target.host, target.port)
            if key in seen:
                continue
            seen.add(key)
            problem = probe(target)
            if problem:
                return problem
    return None
