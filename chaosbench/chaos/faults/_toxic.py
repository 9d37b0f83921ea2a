"""Faults through the fault proxy: a route switch (``route_down.py``) or one toxic per stream.

``ToxicFault`` is generic: ``toxic_fault(toxic)`` builds the fault class of a toxic that
declares ``profile_name`` and ``Profile`` (``chaosbench/proxy/toxics/``); ``proxied.py`` does
that for every such toxic, so a proxy fault is the toxic's one module. The toxic is named
``cb_<fault name>_<stream>`` so that ``revert()`` removes exactly what ``inject()`` added, also
after a half-done inject (removing a toxic that is not there is fine).

Persistence: a proxy in another process (``ctx.proxy_external``: the main job's layout, a
``--chaos-proxy URL``, a real Toxiproxy) keeps its toxics and downed routes when the harness is
killed. There these faults are persistent: the ledger entry names the proxy, the route and the
toxics BEFORE they are added, and ``revert_leftover`` removes exactly those (and brings a route
this fault took down back up) at the next start or ``chaosbench reset``; a toxic another run
added on the same proxy is left alone. An embedded proxy, and the harness's own proxy child
process (``--chaos-proxy process``), die with the harness: no entry.
"""

from __future__ import annotations

import socket
import sys
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar
from urllib.parse import urlsplit

from chaosbench.chaos.faults._common import ledger_record
from chaosbench.chaos.faults.base import Fault
from chaosbench.ground.errors import FaultError
from chaosbench.proxy.client import ToxiproxyClient
from chaosbench.proxy.toxics.base import Toxic
from chaosbench.proxy.toxics.profile import RouteSettings, ToxicProfile

if TYPE_CHECKING:
    from chaosbench.chaos.ledger import LedgerEntry

TS = TypeVar("TS", bound=RouteSettings)
TP = TypeVar("TP", bound=ToxicProfile)


class RouteFault(Fault[TS]):
    """Base of faults acting through the fault proxy on ``settings.route``."""

    #: Route protocols this fault needs (checked at validation); empty = any.
    protocols: ClassVar[tuple[str, ...]] = ()
    _client: ToxiproxyClient | None = None

    @property  # per instance: where the proxy runs
    def persistent(self) -> bool:  # type: ignore[override]
        """The proxy outlives this process: what the fault leaves there goes in the ledger."""
        return bool(self.ctx.proxy_external)

    def _ledger_before(self, undo: dict[str, Any]) -> None:
        """The ledger entry (proxy, route, what is about to change) BEFORE the change."""
        if self.persistent:
            ledger_record(self, {"proxy": self.client.url, "route": self.route, **undo})

    @property
    def client(self) -> ToxiproxyClient:
        if self._client is None:
            self._client = ToxiproxyClient(self.ctx.proxy_url)
        return self._client

    @property
    def route(self) -> str:
        return self.settings.route

    def targets(self) -> list[str]:
        entry = self.ctx.routes.get(self.route)
        if entry is None:
            return []
        listen, upstream, _protocol = entry
        return [listen, upstream]

    @property
    def target(self) -> str:
        return self.route


class ToxicFault(RouteFault[TP]):
    """A fault that is one toxic per stream on its route; the toxic's ``Profile`` settings say
    how intensity scales them into the toxic's attributes and toxicity."""

    toxic_type: ClassVar[str]
    _toxic_seed: int | None = None

    def attributes(self) -> dict[str, Any]:
        """The toxic's own attributes, scaled by ``self.intensity`` as the toxic documents."""
        attrs = self.settings.attributes(self.intensity)
        if self.settings.seeded:
            attrs["seed"] = self.seed()
        return attrs

    def seed(self) -> int:
        """The toxic's seed, drawn once per fault from its seeded generator."""
        if self._toxic_seed is None:
            self._toxic_seed = self.ctx.rng.randrange(2**31)
        return self._toxic_seed

    def toxicity(self) -> float:
        return self.settings.toxicity_at(self.intensity)

    def streams(self) -> list[str]:
        return self.settings.streams()

    def toxic_name(self, stream: str) -> str:
        return f"cb_{self.name}_{stream}"

    def inject(self) -> None:
        attrs = self.attributes()
        self._ledger_before({"toxics": [self.toxic_name(st) for st in self.streams()]})
        for stream in self.streams():
            self.client.add_toxic(
                self.route,
                self.toxic_type,
                attrs,
                stream=stream,
                toxicity=self.toxicity(),
                name=self.toxic_name(stream),
            )

    def revert(self) -> None:
        errors: list[str] = []
        for stream in ("upstream", "downstream"):
            try:
                self.client.remove_toxic(self.route, self.toxic_name(stream))
            except Exception as exc:  # try the other stream too, then report
                errors.append(str(exc))
        if errors:
            raise FaultError("; ".join(errors))

    @classmethod
    def revert_leftover(cls, entry: LedgerEntry) -> str:
        """Remove the toxics a killed harness added (its ledger entry names them)."""
        where = proxy_of(entry)
        if where is None:
            return f"{entry.type} {entry.name!r}: nothing was added on a proxy yet"
        url, route = where
        if not proxy_listening(url):
            return f"{entry.type} {entry.name!r}: fault proxy {url} is gone, its toxics with it"
        client = ToxiproxyClient(url, timeout=5.0)
        names = [str(n) for n in entry.undo.get("toxics") or []]
        removed = [n for n in names if client.toxic(route, n) is not None]
        for name in removed:
            client.remove_toxic(route, name)
        what = ", ".join(removed) if removed else "none was left"
        return f"removed toxics of {entry.type} {entry.name!r} from {url} route {route!r}: {what}"

    def describe(self) -> dict[str, Any]:
        return {
            "settings": self.settings.model_dump(mode="json"),
            "toxic": self.toxic_type,
            "attributes": self.attributes(),
            "toxicity": self.toxicity(),
            "streams": self.streams(),
        }


def toxic_fault(toxic: type[Toxic]) -> type[ToxicFault[Any]]:
    """The fault class of a toxic that declares ``profile_name`` and ``Profile``."""
    name, settings = toxic.profile_name, toxic.Profile
    if name is None or settings is None:
        raise RuntimeError(
            f"toxic {toxic.type_name!r} ({toxic.__module__}): a fault needs both "
            "profile_name and Profile"
        )
    title = "".join(part.title() for part in name.split("_"))
    module = sys.modules.get(toxic.__module__)
    namespace: dict[str, Any] = {
        "__doc__": (module.__doc__ if module is not None else None) or toxic.__doc__,
        "__module__": __name__,
        "__qualname__": f"{title}Fault",
        "type_name": name,
        "toxic_type": toxic.type_name,
        "Settings": settings,
        "protocols": ("http",) if toxic.kind != "tcp" else (),
    }
    return type(f"{title}Fault", (ToxicFault,), namespace)


def proxy_of(entry: LedgerEntry) -> tuple[str, str] | None:
    """(proxy API url, route) of a proxy fault's ledger entry; None before the fault added
    anything (the scheduler's entry before ``inject()``)."""
    url, route = entry.undo.get("proxy"), entry.undo.get("route")
    if not isinstance(url, str) or not isinstance(route, str):
        return None
    return url, route


def proxy_listening(url: str, timeout: float = 2.0) -> bool:
    """False when nothing listens at the proxy API ``url`` (connection refused: the proxy and
    its toxics are gone); True when it accepts. Any other failure raises OSError (unknown:
    the ledger entry is kept for the next reset)."""
    parts = urlsplit(url if "://" in url else f"http://{url}")
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or 8474), timeout):
            return True
    except ConnectionRefusedError:
        return False
