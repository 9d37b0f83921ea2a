"""The fault contract. Read docs/faults.md before adding one.

A fault is one small class in its own module under ``chaosbench/chaos/faults/``, registered by
its type name with ``@register`` (a proxy fault is built from its toxic instead: ``_toxic.py``).
It owns only its own settings (a pydantic model, ``Settings``); the scheduler owns the envelope
(name, type, target, bursts, intensity) and calls:

- ``targets()`` before anything runs: every host:port (or other address) the fault would touch,
  checked against the profile's allowlist;
- ``inject()`` at burst start (never in dry-run);
- ``revert()`` at burst end and on every exit path. Revert is idempotent, and safe when inject
  never ran or failed half-way.

``intensity`` (0..1, from the profile: fixed, ramped across bursts, or 1.0) scales the fault's
own magnitude in a way the fault documents (toxicity, error rate, share of backends, ...).
"""

from __future__ import annotations

import abc
import random
from dataclasses import dataclass, field
from typing import Any, ClassVar, Generic, TypeVar

from chaosbench.ground import defaults
from chaosbench.ground.registry import Registry
from chaosbench.ground.settings import ProfileSettings
from chaosbench.ground.state import RunState

#: Base for a fault's own settings: unknown keys are errors. The same base as a toxic's profile
#: settings (``chaosbench/proxy/toxics/profile.py``), so a fault derived from a toxic takes
#: them as they are.
FaultSettings = ProfileSettings


S = TypeVar("S", bound=FaultSettings)


@dataclass
class FaultContext:
    """What the scheduler hands every fault. Filled by the scheduler from the profile.

    ``proxy_url``: the Toxiproxy-compatible API (embedded proxy or a real Toxiproxy).
    ``routes``: route name -> (listen "host:port", upstream "host:port", protocol).
    ``ledger``: persisted record of faults that outlive the process (may be None in unit tests).
    ``resources``: named local resources a fault may act on (for example the pid or restart
    commands of a process the harness started); plain data.
    ``state``: the run's shared state (timeline, integrity counters, the in-process switches that
    ``pg_slow_queries``, ``clock_skew`` and ``dns_failure`` set).
    ``proxy_external``: the proxy at ``proxy_url`` runs in another process and keeps what the
    proxy faults add when this one is killed, so they write ledger entries (``_toxic.py``). The
    wiring sets False for the embedded proxy and for the harness's own proxy child process
    (``--chaos-proxy process``: it dies with the harness); the default is the safe side.
    """

    proxy_url: str = defaults.PROXY_URL
    routes: dict[str, tuple[str, str, str]] = field(default_factory=dict)
    rng: random.Random = field(default_factory=random.Random)
    ledger: Any = None
    resources: dict[str, Any] = field(default_factory=dict)
    run_id: str = ""
    state: RunState = field(default_factory=RunState)
    proxy_external: bool = True


class Fault(abc.ABC, Generic[S]):
    """One fault instance: ``Settings`` validated, bound to a context and an intensity."""

    type_name: ClassVar[str]
    Settings: ClassVar[type[FaultSettings]]
    #: True when the effect outlives the process (a server setting, a stopped process): the
    #: scheduler writes a ledger entry before ``inject()`` and removes it after ``revert()``.
    persistent: ClassVar[bool] = False

    def __init__(self, name: str, settings: S, ctx: FaultContext, intensity: float = 1.0) -> None:
        self.name = name
        self.settings = settings
        self.ctx = ctx
        self.intensity = intensity

    @abc.abstractmethod
    def targets(self) -> list[str]:
        """Addresses this fault touches (``host:port``, ``host``), for the allowlist."""

    @abc.abstractmethod
    def inject(self) -> None:
        """Apply the fault. May raise; the scheduler journals the error and reverts."""

    @abc.abstractmethod
    def revert(self) -> None:
        """Undo the fault. Idempotent; safe when inject never ran or half-ran."""

    def describe(self) -> dict[str, Any]:
        """Plain data for the journal's ``details``."""
        return {"settings": self.settings.model_dump(mode="json")}

    @property
    def target(self) -> str:
        """A short label of what is touched, for the journal."""
        return ",".join(self.targets())


#: The fault catalogue: every module of ``chaosbench.chaos.faults`` registers its fault here.
FAULTS: Registry[type[Fault[Any]]] = Registry(
    "fault type", "chaosbench.chaos.faults", key=lambda cls: cls.type_name
)

F = TypeVar("F", bound=type[Fault[Any]])


def register(cls: F) -> F:
    """Class decorator: register a fault under ``cls.type_name``."""
    FAULTS.register(cls)
    return cls
