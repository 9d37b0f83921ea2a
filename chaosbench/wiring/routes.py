"""Which addresses the chaos profile's routes will listen on, told to the load options first.

The load options probe their targets at ``init`` (``chaosbench.users.options``), before the chaos
half creates the profile's routes. A load user pointed at a route (Redis users through the fault
proxy, to put a fault between the load and the server) would be refused as unreachable. This
module's ``init`` listener, installed before the options' one, reads the profile and hands its
routes' listen addresses to ``chaosbench.users.options.listening_later``: those targets are probed
at test start, when the routes exist. A profile that does not load is left to the chaos half,
which reports it.
"""

from __future__ import annotations

from typing import Any

from locust.event import Events

from chaosbench.chaos.profile import load_profile
from chaosbench.chaos.profile.model import split_address
from chaosbench.ground.errors import ChaosbenchError
from chaosbench.users.options import listening_later
from chaosbench.wiring.chaos import NO_PROFILE


def route_listens(opts: Any) -> frozenset[tuple[str, int]]:
    """The (host, port) every route of ``--chaos-profile`` listens on (empty without chaos)."""
    profile_opt = getattr(opts, "chaos_profile", None)
    if profile_opt is None or getattr(opts, "no_chaos", False):
        return frozenset()
    if str(profile_opt).strip().lower() in NO_PROFILE:
        return frozenset()
    try:
        profile = load_profile(str(profile_opt))
    except ChaosbenchError:
        return frozenset()  # the chaos half's init reports it
    out: set[tuple[str, int]] = set()
    for route in profile.routes.values():
        host, port = split_address(route.listen)
        out.add((host, int(port)))
    return frozenset(out)


def _on_init(environment: Any, **_kw: Any) -> None:
    if environment.parsed_options is not None:
        listening_later(environment, route_listens(environment.parsed_options))


def install(events: Events) -> None:
    events.init.add_listener(_on_init)
