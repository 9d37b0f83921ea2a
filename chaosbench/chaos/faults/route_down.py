"""route_down: the route is taken down (existing connections closed, new ones refused) and
brought back up at revert: a network partition of the burst's (or ``duration``'s) length.

Intensity does not apply (a route is up or down). On a proxy in another process the fault is
persistent (``_toxic.py``): a route a killed harness took down is brought back up by the next
start or ``chaosbench reset`` (and only when it was up before this fault took it down).

Seeds: network partitions of 3/10/30 s, persistent connection loss, DNS-less "host
unreachable".
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from chaosbench.chaos.faults._toxic import RouteFault, proxy_listening, proxy_of
from chaosbench.chaos.faults.base import register
from chaosbench.proxy.client import ToxiproxyClient
from chaosbench.proxy.toxics.profile import RouteSettings

if TYPE_CHECKING:
    from chaosbench.chaos.ledger import LedgerEntry


class RouteDownSettings(RouteSettings):
    pass


@register
class RouteDown(RouteFault[RouteDownSettings]):
    type_name = "route_down"
    Settings = RouteDownSettings

    def inject(self) -> None:
        if self.persistent:
            self._ledger_before({"was_enabled": self.client.proxy(self.route).enabled})
        self.client.set_enabled(self.route, False)

    def revert(self) -> None:
        self.client.set_enabled(self.route, True)

    @classmethod
    def revert_leftover(cls, entry: LedgerEntry) -> str:
        """Bring back up the route a killed harness took down."""
        where = proxy_of(entry)
        if where is None or entry.undo.get("was_enabled") is False:
            return f"route_down {entry.name!r}: no route of this fault to bring up"
        url, route = where
        if not proxy_listening(url):
            return f"route_down {entry.name!r}: fault proxy {url} is gone, its routes with it"
        client = ToxiproxyClient(url, timeout=5.0)
        if route not in client.proxies():
            return f"route_down {entry.name!r}: route {route!r} is no longer on {url}"
        client.set_enabled(route, True)
        return f"route_down {entry.name!r}: route {route!r} on {url} brought back up"
