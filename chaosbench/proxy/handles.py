"""What the parts of one proxied connection hold of each other, as Protocols, so that the imports
between the files run one way: ``proxy`` imports ``link``; ``link`` imports ``httpsession``,
``wsrelay``, ``reader`` and ``direction``; ``httpsession`` imports ``wsrelay``, ``reader`` and
``direction``; ``wsrelay`` and ``reader`` import ``direction``; ``direction``, ``reader`` and
``wsrelay`` import ``handles``, which imports none of them.

A part lower down declares the few members it uses of the part that owns it (a ``Direction``
holds a ``Connection``, not a ``Link``); the owner satisfies the Protocol structurally. A Protocol
that names a type of one of these files lives in the file that uses it (``wsrelay.WsLink``,
``httpsession.HttpLink``, ``link.Route``). None of this exists at run time: an attribute read
through a Protocol is the same attribute read.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import gevent

from chaosbench.proxy.toxics.base import LinkHandle


class Connection(LinkHandle, Protocol):
    """The life of a connection (a ``Link``): its end, and the greenlets that end with it."""

    @property
    def closed(self) -> bool: ...

    def spawn(self, fn: Callable[..., object], *args: Any) -> gevent.Greenlet:
        """A greenlet of this connection: killed when it closes."""
        ...


class Resumable(Protocol):
    """A source that stops being read under back-pressure (a ``Reader``) and is started again."""

    def start(self) -> None: ...
