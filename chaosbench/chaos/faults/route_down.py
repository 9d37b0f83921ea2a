"""route_down: the route is taken down (existing connections closed, new ones refused) and
brought back up at revert: a network partition of the burst's (or ``duration``'s) length.

Intensity does not apply (a route is up or down). Seeds: network partitions of 3/10/30 s,
persistent connection loss, DNS-less "host unreachable".
"""

from __future__ import annotations

from chaosbench.chaos.faults._toxic import RouteFault
from chaosbench.chaos.faults.base import register
from chaosbench.proxy.toxics.profile import RouteSettings


class RouteDownSettings(RouteSettings):
    pass


@register
class RouteDown(RouteFault[RouteDownSettings]):
    type_name = "route_down"
    Settings = RouteDownSettings

    def inject(self) -> None:
        self.client.set_enabled(self.route, False)

    def revert(self) -> None:
        self.client.set_enabled(self.route, True)
