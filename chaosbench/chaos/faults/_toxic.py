"""Shared base of the proxy-level faults: one toxic (or a route switch) on a fault-proxy route.

Each concrete fault is a tiny module (``latency.py``, ``http_error.py``, ...) that names its
Toxiproxy toxic type and maps its settings, scaled by the intensity, to the toxic's attributes.
The toxic is named ``cb_<fault name>_<stream>`` so that ``revert()`` can remove exactly what
``inject()`` added, also after a half-done inject (removing a toxic that is not there is fine).
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal, TypeVar

from pydantic import Field

from chaosbench.chaos.faults.base import Fault, FaultSettings
from chaosbench.proxy.client import ToxiproxyClient

Stream = Literal["upstream", "downstream", "both"]


class RouteSettings(FaultSettings):
    """A fault on one route of the fault proxy (``proxy.routes`` of the profile)."""

    route: str = Field(min_length=1)


class ToxicSettings(RouteSettings):
    """A TCP toxic: which direction, and the share of connections it applies to."""

    stream: Stream = "downstream"
    toxicity: float = Field(default=1.0, ge=0.0, le=1.0)


class PathFilter(RouteSettings):
    """HTTP toxics: requests whose path starts with one of ``paths_include`` (all when empty),
    except those starting with one of ``paths_exclude``."""

    paths_include: list[str] = Field(default_factory=list)
    paths_exclude: list[str] = Field(default_factory=list)


TS = TypeVar("TS", bound=RouteSettings)


class RouteFault(Fault[TS]):
    """Base of faults acting through the fault proxy on ``settings.route``."""

    #: Route protocols this fault needs (checked at validation); empty = any.
    protocols: ClassVar[tuple[str, ...]] = ()
    _client: ToxiproxyClient | None = None

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


class ToxicFault(RouteFault[TS]):
    """A fault that is one toxic per stream on its route."""

    toxic_type: ClassVar[str]

    def attributes(self) -> dict[str, Any]:
        """The toxic's own attributes, scaled by ``self.intensity`` as the fault documents."""
        return {}

    def toxicity(self) -> float:
        return float(getattr(self.settings, "toxicity", 1.0))

    def streams(self) -> list[str]:
        stream = getattr(self.settings, "stream", "downstream")
        return ["upstream", "downstream"] if stream == "both" else [stream]

    def toxic_name(self, stream: str) -> str:
        return f"cb_{self.name}_{stream}"

    def inject(self) -> None:
        attrs = self.attributes()
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
            raise errors_to_fault_error(errors)

    def describe(self) -> dict[str, Any]:
        return {
            "settings": self.settings.model_dump(mode="json"),
            "toxic": self.toxic_type,
            "attributes": self.attributes(),
            "toxicity": self.toxicity(),
            "streams": self.streams(),
        }


def seed_from(fault: Fault[Any]) -> int:
    """A toxic seed drawn once per fault from its seeded generator (same run seed, same seed)."""
    cached = getattr(fault, "_toxic_seed", None)
    if cached is None:
        cached = fault.ctx.rng.randrange(2**31)
        fault._toxic_seed = cached  # type: ignore[attr-defined]
    return int(cached)


def errors_to_fault_error(errors: list[str]) -> Exception:
    from chaosbench.ground.errors import FaultError

    return FaultError("; ".join(errors))
