"""dns_failure: a share of the harness's own name lookups fail (a DNS flap).

Sets the run's dns failure switch (``ctx.state.switches``): while it is set, a resolver hook on
``socket.getaddrinfo`` in this process (and gevent's, which the patched
``socket.create_connection`` uses) makes a share of the lookups raise ``socket.gaierror``
(``EAI_AGAIN``, "Temporary failure in name resolution"), as a flapping resolver does. Revert
clears the switch, which puts the original functions back. Every client of the harness that
resolves through Python's socket module is hit (redis-py, websocket-client, urllib3/requests,
psycopg for host names); libraries that skip the lookup for IP literals (psycopg) are not hit by
``127.0.0.1``. On a distributed run the master sends the switch to every worker.

``hosts`` limits the fault to those host names (empty: every host); ``match: names`` spares IP
literals, ``match: all`` (the default, since the bundled targets are loopback addresses) fails
lookups of IP literals too.

Intensity: scales ``share`` (the share of lookups that fail = ``share * intensity``).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from chaosbench.chaos.faults.base import Fault, FaultSettings, register
from chaosbench.ground.switches import DnsFailureSwitch


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
        self._active = False
        self._counts = (0, 0)  # the switches' (lookups, failed) at inject
        self.lookups = 0
        self.failed = 0

    def targets(self) -> list[str]:
        return []  # in-process: the harness's own lookups

    @property
    def target(self) -> str:
        return "harness:dns"

    def inject(self) -> None:
        if self._active:
            return
        s, switches = self.settings, self.ctx.state.switches
        self._counts = (switches.dns_lookups, switches.dns_failed)
        switches.set_dns_failure(
            DnsFailureSwitch(
                share=s.share * self.intensity,
                hosts=tuple(s.hosts),
                match=s.match,
                seed=self.ctx.rng.randrange(2**32),
            )
        )
        self._active = True

    def _count(self) -> None:
        if self._active:
            switches = self.ctx.state.switches
            self.lookups = switches.dns_lookups - self._counts[0]
            self.failed = switches.dns_failed - self._counts[1]

    def revert(self) -> None:
        self._count()
        self._active = False
        self.ctx.state.switches.set_dns_failure(None)

    def describe(self) -> dict[str, Any]:
        self._count()
        return {**super().describe(), "lookups": self.lookups, "failed": self.failed}
