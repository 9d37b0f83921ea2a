"""What a toxic declares for the chaos profiles: the settings of the fault it becomes (the
field names a profile uses, with their limits) and how the fault's intensity (0..1) scales
them into the toxic's attributes.

The chaos layer (``chaosbench/chaos/faults/proxied.py``) turns every toxic with a
``profile_name`` into a fault type of that name; the toxic module is the only file. Plain
pydantic, no gevent: the profile loader validates these without starting a proxy.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

from pydantic import Field

from chaosbench.ground.settings import ProfileSettings

Stream = Literal["upstream", "downstream", "both"]


class RouteSettings(ProfileSettings):
    """A fault on one route of the fault proxy (``proxy.routes`` of the profile)."""

    route: str = Field(min_length=1)


class ToxicProfile(RouteSettings):
    """Base of a toxic's profile settings. Override ``attributes``; the rest has defaults.

    ``seeded``: the fault adds a ``seed`` attribute drawn once from the run's generator (for
    toxics that draw per request or per message), so a run seed repeats the run.
    """

    seeded: ClassVar[bool] = False

    def attributes(self, intensity: float) -> dict[str, Any]:
        """The toxic's attributes for this intensity (0..1)."""
        return {}

    def toxicity_at(self, intensity: float) -> float:
        """The toxic's toxicity (share of connections it acts on) for this intensity."""
        return 1.0

    def streams(self) -> list[str]:
        """The directions the toxic is added on (one toxic each)."""
        return ["downstream"]


class ToxicSettings(ToxicProfile):
    """A TCP toxic: which direction (``both``: one toxic per direction), and the share of
    connections it applies to. By default intensity scales that share (``scale_toxicity``);
    a toxic whose intensity scales a magnitude instead sets ``scale_toxicity = False``."""

    scale_toxicity: ClassVar[bool] = True

    stream: Stream = "downstream"
    toxicity: float = Field(default=1.0, ge=0.0, le=1.0)

    def toxicity_at(self, intensity: float) -> float:
        return self.toxicity * intensity if self.scale_toxicity else self.toxicity

    def streams(self) -> list[str]:
        return ["upstream", "downstream"] if self.stream == "both" else [self.stream]


class RateSettings(ToxicProfile):
    """A per-message (WebSocket) or per-request (HTTP) toxic hitting a share ``rate``."""

    seeded: ClassVar[bool] = True

    rate: float = Field(default=1.0, ge=0.0, le=1.0)


class DelaySettings(RateSettings):
    """A share ``rate`` held ``delay_ms`` (± ``jitter_ms``); intensity scales the delay."""

    delay_ms: int = Field(ge=0, le=600_000)
    jitter_ms: int = Field(default=0, ge=0, le=600_000)

    def attributes(self, intensity: float) -> dict[str, Any]:
        return {
            "delay_ms": round(self.delay_ms * intensity),
            "jitter_ms": round(self.jitter_ms * intensity),
            "rate": self.rate,
        }


class PathFilter(RateSettings):
    """HTTP toxics: requests whose path starts with one of ``paths_include`` (all when empty),
    except those starting with one of ``paths_exclude``."""

    paths_include: list[str] = Field(default_factory=list)
    paths_exclude: list[str] = Field(default_factory=list)

    def path_attributes(self) -> dict[str, Any]:
        return {
            "paths_include": list(self.paths_include),
            "paths_exclude": list(self.paths_exclude),
        }
