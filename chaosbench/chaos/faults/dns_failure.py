"""dns_failure: a share of the harness's own name lookups fail (a DNS flap).

Wraps ``socket.getaddrinfo`` in this process (and gevent's, which the patched
``socket.create_connection`` uses) so that a share of the lookups raise ``socket.gaierror``
(``EAI_AGAIN``, "Temporary failure in name resolution"), as a flapping resolver does. Revert
puts the original functions back. Every client of the harness that resolves through Python's
socket module is hit (redis-py, websocket-client, urllib3/requests, psycopg for host names);
libraries that skip the lookup for IP literals (psycopg) are not hit by ``127.0.0.1``.

``hosts`` limits the fault to those host names (empty: every host); ``match: names`` spares IP
literals, ``match: all`` (the default, since the bundled targets are loopback addresses) fails
lookups of IP literals too.

Intensity: scales ``share`` (the share of lookups that fail = ``share * intensity``).
"""

from __future__ import annotations

import ipaddress
import socket
import sys
from collections.abc import Callable
from typing import Any, Literal

from pydantic import Field

from chaosbench.chaos.faults.base import Fault, FaultSettings, register

Resolver = Callable[..., Any]


def _is_ip(host: object) -> bool:
    try:
        ipaddress.ip_address(str(host))
    except ValueError:
        return False
    return True


class DnsFailureSettings(FaultSettings):
    share: float = Field(default=1.0, ge=0.0, le=1.0)
    hosts: list[str] = Field(default_factory=list)
    match: Literal["all", "names"] = "all"


@register
class DnsFailure(Fault[DnsFailureSettings]):
    type_name = "dns_failure"
    Settings = DnsFailureSettings

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._saved: list[tuple[Any, Resolver, Resolver]] = []  # (module, original, wrapper)
        self._active = False
        self.lookups = 0
        self.failed = 0

    def targets(self) -> list[str]:
        return []  # in-process: the harness's own lookups

    @property
    def target(self) -> str:
        return "harness:dns"

    def _fails(self, host: object) -> bool:
        s = self.settings
        if not self._active:
            return False
        if s.hosts and str(host) not in s.hosts:
            return False
        if s.match == "names" and _is_ip(host):
            return False
        self.lookups += 1
        if self.ctx.rng.random() < s.share * self.intensity:
            self.failed += 1
            return True
        return False

    def _wrap(self, original: Resolver) -> Resolver:
        def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
            if self._fails(host):
                raise socket.gaierror(
                    socket.EAI_AGAIN,
                    f"Temporary failure in name resolution ({host}: chaosbench dns_failure)",
                )
            return original(host, *args, **kwargs)

        return getaddrinfo

    def inject(self) -> None:
        if self._saved:
            return
        modules: list[Any] = [socket]
        gsock = sys.modules.get("gevent.socket")
        if gsock is not None and gsock is not socket:
            modules.append(gsock)
        for module in modules:
            original = module.getaddrinfo
            wrapper = self._wrap(original)
            self._saved.append((module, original, wrapper))
            module.getaddrinfo = wrapper
        self._active = True

    def revert(self) -> None:
        self._active = False  # a wrapper that cannot be unhooked (wrapped again) passes through
        for module, original, wrapper in reversed(self._saved):
            if module.getaddrinfo is wrapper:
                module.getaddrinfo = original
        self._saved.clear()

    def describe(self) -> dict[str, Any]:
        return {**super().describe(), "lookups": self.lookups, "failed": self.failed}
