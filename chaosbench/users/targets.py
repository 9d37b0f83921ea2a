"""Reachability of the load users' targets, probed once at test start.

A target that does not answer raises ``TargetUnreachable`` naming it and the option that sets
it; ``check_targets`` is the boundary that turns the first problem into its one line.
"""

from __future__ import annotations

import socket
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from chaosbench.ground.errors import ChaosbenchError, OptionError, TargetUnreachable
from chaosbench.ground.redact import redact
from chaosbench.ground.translate import TIMED_OUT, reason

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
        raise OptionError(redact(f"{option}: {label} address is malformed ({exc})")) from None
    if not parts.scheme or not parts.hostname:
        raise OptionError(f"{option}: {label} address has no scheme://host")
    return Target(label, parts.hostname, port or default_port, option)


def probe(target: Target, timeout: float = 3.0) -> None:
    """Open (and close) a TCP connection to ``target``; ``TargetUnreachable`` when none opens
    (cooperative under gevent)."""
    try:
        with socket.create_connection((target.host, target.port), timeout=timeout):
            return
    except OSError as exc:
        why = reason(exc)
        if why == TIMED_OUT:
            why = f"no answer within {timeout:g} s"
        raise TargetUnreachable(
            f"{target.label} at {target.address} is not reachable ({why}): {_HINT} "
            f"or set {target.option}"
        ) from None


def check_targets(
    user_classes: Iterable[type], opts: object, skip: frozenset[tuple[str, int]] = frozenset()
) -> str | None:
    """Probe every distinct target of the given user classes (but those on ``skip``'s
    (host, port) addresses); the first problem, or None.

    ``opts`` (the run's ``LoadOptions``) is only handed to each class's ``targets(opts)``; this
    module does not import ``chaosbench.users.options``, which imports it.
    """
    seen: set[tuple[str, int]] = set(skip)
    for cls in user_classes:
        getter = getattr(cls, "targets", None)
        if getter is None:
            continue
        try:
            for target in getter(opts):
                key = (target.host, target.port)
                if key not in seen:
                    seen.add(key)
                    probe(target)
        except ChaosbenchError as exc:
            return redact(str(exc))
    return None
