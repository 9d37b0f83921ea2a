"""The profile document (pydantic) and the resolved profile the scheduler runs."""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from chaosbench.chaos.faults.base import Fault, FaultSettings
from chaosbench.chaos.profile.durations import Duration, format_duration
from chaosbench.chaos.safety.allowlist import DEFAULT_ALLOW, Allowlist


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


def split_address(value: str) -> tuple[str, int]:
    """``host:port`` or ``[v6]:port`` -> (host, port); ValueError otherwise."""
    text = value.strip()
    if text.startswith("["):
        host, _, rest = text[1:].partition("]")
        port_text = rest[1:] if rest.startswith(":") else ""
    else:
        host, _, port_text = text.rpartition(":")
    if not host or not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ValueError(f"expected host:port, got {value!r}")
    return host, int(port_text)


#: Bounds of a profile's phases: bursts, and the whole run (each duration: MAX_DURATION_S, 24h).
MAX_BURSTS = 10_000
MAX_TOTAL_S = 7 * 24 * 3600.0
MAX_FAULTS = 1000
MAX_ROUTES = 256


class Phases(StrictModel):
    warmup: Duration = 10.0
    baseline: Duration = 30.0
    burst_on: Duration = 15.0
    burst_off: Duration = 30.0
    bursts: int = Field(default=3, ge=0, le=MAX_BURSTS)
    cooldown: Duration = 10.0

    @model_validator(mode="after")
    def _bounded(self) -> Phases:
        if self.total > MAX_TOTAL_S:
            raise ValueError(
                f"the whole profile runs {format_duration(self.total)}; at most 7 days "
                f"({MAX_TOTAL_S:g}s: warmup + baseline + bursts x (burst_on + burst_off) + "
                "cooldown)"
            )
        return self

    @property
    def total(self) -> float:
        return (
            self.warmup
            + self.baseline
            + self.bursts * (self.burst_on + self.burst_off)
            + self.cooldown
        )


class Route(StrictModel):
    listen: str
    upstream: str
    protocol: Literal["tcp", "http"] = "tcp"

    @field_validator("listen", "upstream")
    @classmethod
    def _address(cls, v: str) -> str:
        split_address(v)
        return v


class ProxySection(StrictModel):
    routes: dict[str, Route] = Field(default_factory=dict, max_length=MAX_ROUTES)


class Rotation(StrictModel):
    """One scenario per burst, in turn: in profile order, or in a seeded shuffled order."""

    order: Literal["sequential", "shuffle"] = "sequential"


class FaultEnvelope(StrictModel):
    """The keys of a fault entry the scheduler owns; every other key is the fault's Settings."""

    name: str | None = Field(default=None, min_length=1, max_length=64, pattern=r"^[\w.\-]+$")
    type: str
    bursts: list[int] | None = Field(default=None, max_length=MAX_BURSTS)
    intensity: float | list[float] = 1.0
    scenario: str | None = Field(default=None, min_length=1, max_length=64)
    start: Duration = 0.0
    duration: Duration | None = None

    @field_validator("intensity")
    @classmethod
    def _intensity(cls, v: float | list[float]) -> float | list[float]:
        values = v if isinstance(v, list) else [v]
        if not values:
            raise ValueError("a ramp needs at least one value")
        if len(values) > MAX_BURSTS:
            raise ValueError(f"a ramp has at most {MAX_BURSTS} values (one per burst)")
        for x in values:
            if not 0.0 <= x <= 1.0:
                raise ValueError(f"intensity must be between 0 and 1, got {x}")
        return v


ENVELOPE_KEYS = frozenset(FaultEnvelope.model_fields)


class ProfileDoc(StrictModel):
    """A chaos profile as written in YAML."""

    description: str = ""
    enabled: bool = True
    dry_run: bool = False
    seed: int | None = None
    allow: list[str] = Field(default_factory=lambda: list(DEFAULT_ALLOW), max_length=1000)
    phases: Phases = Field(default_factory=Phases)
    proxy: ProxySection = Field(default_factory=ProxySection)
    rotation: Rotation | None = None
    faults: list[dict[str, Any]] = Field(default_factory=list, max_length=MAX_FAULTS)


@dataclass(frozen=True)
class FaultSpec:
    """One fault of a profile, fully resolved: when it fires and how hard."""

    index: int  # position in the profile's ``faults`` list
    name: str
    type: str
    cls: builtins.type[Fault[Any]]
    settings: FaultSettings
    scenario: str
    bursts: tuple[int, ...]  # 1-based burst indexes it fires in, ascending
    intensities: tuple[float, ...]  # one per entry of ``bursts``
    start: float  # offset into the burst, seconds
    duration: float  # seconds it stays injected

    def intensity_at(self, burst: int) -> float:
        return self.intensities[self.bursts.index(burst)]

    @property
    def where(self) -> str:
        return f"faults[{self.index}]"


@dataclass(frozen=True)
class Profile:
    """A validated profile: what the scheduler runs."""

    source: str  # file path (or ``<string>``), for messages
    doc: ProfileDoc
    seed: int
    dry_run: bool
    faults: tuple[FaultSpec, ...]
    allowlist: Allowlist

    @property
    def enabled(self) -> bool:
        return self.doc.enabled

    @property
    def phases(self) -> Phases:
        return self.doc.phases

    @property
    def routes(self) -> dict[str, Route]:
        return self.doc.proxy.routes

    def route_table(self) -> dict[str, tuple[str, str, str]]:
        """Route name -> (listen, upstream, protocol), as FaultContext.routes wants it."""
        return {n: (r.listen, r.upstream, str(r.protocol)) for n, r in self.routes.items()}

    def scenarios(self) -> list[str]:
        seen: list[str] = []
        for f in self.faults:
            if f.scenario not in seen:
                seen.append(f.scenario)
        return seen
