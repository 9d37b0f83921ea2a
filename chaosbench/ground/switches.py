"""The switches that in-process faults set and the load users consult, one set per run.

``pg_slow_queries`` does not touch the server: it asks the harness's own PostgreSQL user to make a
share of its queries slow with ``pg_sleep``, as the production report does. The PostgreSQL load
user calls :meth:`FaultSwitches.pg_slow_delay` once per query; when it returns a positive number
of seconds, the user runs ``SELECT pg_sleep(<seconds>)`` in the same session before its query, so
that the time is spent in the server and counts in the sample::

    switches = RunState.of(environment).switches
    delay = switches.pg_slow_delay()
    if delay:
        cur.execute("SELECT pg_sleep(%s)", (delay,))
    cur.execute(query)

``clock_skew`` shifts the run's :class:`~chaosbench.ground.clock.ClientClock`; ``dns_failure``
makes a share of this process's name lookups fail while its switch is set (a resolver hook on
``socket.getaddrinfo``, installed while the switch is on, removed when it is cleared).

On a distributed run the master sends a :class:`SwitchSnapshot` to every worker after each inject
and revert (and to a worker that joins late); the worker applies it to its own switches.
Reading a switch is a few attribute reads and one random draw: cheap, never blocking.
"""

from __future__ import annotations

import ipaddress
import random
import socket
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from chaosbench.ground.clock import ClientClock

Resolver = Callable[..., Any]
_ORIGINAL = "_chaosbench_original"  # attributes of a resolver hook: what it wraps, and
_DEAD = "_chaosbench_dead"  # whether its run cleared it while it could not be unhooked
DnsMatch = Literal["all", "names"]


@dataclass(frozen=True)
class DnsFailureSwitch:
    """A share of lookups fail; ``hosts`` limits it to those names (empty: every host);
    ``match="names"`` spares IP literals."""

    share: float
    hosts: tuple[str, ...] = ()
    match: DnsMatch = "all"
    seed: int | None = None


@dataclass(frozen=True)
class SwitchSnapshot:
    """The switches as plain data, for a Locust message (master -> workers)."""

    pg_slow_share: float = 0.0
    pg_slow_seconds: float = 0.0
    pg_slow_seed: int | None = None
    clock_skew_s: float = 0.0
    dns_failure: DnsFailureSwitch | None = None

    def to_dict(self) -> dict[str, Any]:
        dns = self.dns_failure
        return {
            "pg_slow_share": self.pg_slow_share,
            "pg_slow_seconds": self.pg_slow_seconds,
            "pg_slow_seed": self.pg_slow_seed,
            "clock_skew_s": self.clock_skew_s,
            "dns_failure": None
            if dns is None
            else {
                "share": dns.share,
                "hosts": list(dns.hosts),
                "match": dns.match,
                "seed": dns.seed,
            },
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SwitchSnapshot:
        dns = d.get("dns_failure")
        seed = d.get("pg_slow_seed")
        return cls(
            pg_slow_share=float(d.get("pg_slow_share", 0.0)),
            pg_slow_seconds=float(d.get("pg_slow_seconds", 0.0)),
            pg_slow_seed=None if seed is None else int(seed),
            clock_skew_s=float(d.get("clock_skew_s", 0.0)),
            dns_failure=None
            if not dns
            else DnsFailureSwitch(
                share=float(dns.get("share", 1.0)),
                hosts=tuple(str(h) for h in dns.get("hosts", ())),
                match="names" if dns.get("match") == "names" else "all",
                seed=None if dns.get("seed") is None else int(dns["seed"]),
            ),
        )


def _is_ip(host: object) -> bool:
    try:
        ipaddress.ip_address(str(host))
    except ValueError:
        return False
    return True


@dataclass
class FaultSwitches:
    """One run's in-process fault switches (see the module docstring)."""

    pg_slow_share: float = 0.0
    pg_slow_seconds: float = 0.0
    pg_slow_seed: int | None = None
    pg_rng: random.Random = field(default_factory=random.Random, repr=False)
    clock: ClientClock = field(default_factory=ClientClock)
    dns_failure: DnsFailureSwitch | None = None
    dns_rng: random.Random = field(default_factory=random.Random, repr=False)
    dns_lookups: int = 0  # lookups the dns_failure switch considered, and how many it failed
    dns_failed: int = 0
    _saved: list[tuple[Any, Resolver, Resolver]] = field(default_factory=list, repr=False)

    # -- pg_slow_queries -------------------------------------------------------------------
    def set_pg_slow(self, share: float, seconds: float, seed: int | None = None) -> None:
        """Make ``share`` (0..1) of the harness's PostgreSQL queries sleep ``seconds`` first."""
        self.pg_slow_share = min(max(float(share), 0.0), 1.0)
        self.pg_slow_seconds = max(float(seconds), 0.0)
        self.pg_slow_seed = seed
        if seed is not None:
            self.pg_rng.seed(seed)

    def clear_pg_slow(self) -> None:
        self.set_pg_slow(0.0, 0.0)

    def pg_slow_delay(self) -> float:
        """Seconds this query should ``pg_sleep`` first: 0.0, or ``pg_slow_seconds`` for a
        share of calls equal to ``pg_slow_share``."""
        share, seconds = self.pg_slow_share, self.pg_slow_seconds
        if share <= 0.0 or seconds <= 0.0:
            return 0.0
        return seconds if share >= 1.0 or self.pg_rng.random() < share else 0.0

    # -- clock_skew ------------------------------------------------------------------------
    def set_clock_skew(self, seconds: float) -> None:
        self.clock.skew = float(seconds)

    # -- dns_failure -----------------------------------------------------------------------
    def set_dns_failure(self, switch: DnsFailureSwitch | None) -> None:
        """Set (or, with None, clear) the dns failure switch; the resolver hook follows."""
        self.dns_failure = switch
        if switch is None:
            self._unhook()
            return
        if switch.seed is not None:
            self.dns_rng.seed(switch.seed)
        self._hook()

    def dns_fails(self, host: object) -> bool:
        s = self.dns_failure
        if s is None:
            return False
        if s.hosts and str(host) not in s.hosts:
            return False
        if s.match == "names" and _is_ip(host):
            return False
        self.dns_lookups += 1
        if self.dns_rng.random() < s.share:
            self.dns_failed += 1
            return True
        return False

    def _wrap(self, original: Resolver) -> Resolver:
        def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
            if self.dns_fails(host):
                raise socket.gaierror(
                    socket.EAI_AGAIN,
                    f"Temporary failure in name resolution ({host}: chaosbench dns_failure)",
                )
            return original(host, *args, **kwargs)

        setattr(getaddrinfo, _ORIGINAL, original)
        return getaddrinfo

    def _hook(self) -> None:
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

    def _unhook(self) -> None:
        # A wrapper that cannot be unhooked (another run's wrapped it since) passes through (its
        # switch is None) and is marked dead: whoever unhooks above it skips it.
        for module, original, wrapper in reversed(self._saved):
            if module.getaddrinfo is wrapper:
                while getattr(original, _DEAD, False):
                    original = getattr(original, _ORIGINAL)
                module.getaddrinfo = original
            else:
                setattr(wrapper, _DEAD, True)
        self._saved.clear()

    # -- distribution ----------------------------------------------------------------------
    def snapshot(self) -> SwitchSnapshot:
        return SwitchSnapshot(
            pg_slow_share=self.pg_slow_share,
            pg_slow_seconds=self.pg_slow_seconds,
            pg_slow_seed=self.pg_slow_seed,
            clock_skew_s=self.clock.skew,
            dns_failure=self.dns_failure,
        )

    def apply(self, snap: SwitchSnapshot) -> None:
        """Take the switches another process (the master) set."""
        if (snap.pg_slow_share, snap.pg_slow_seconds, snap.pg_slow_seed) != (
            self.pg_slow_share,
            self.pg_slow_seconds,
            self.pg_slow_seed,
        ):
            self.set_pg_slow(snap.pg_slow_share, snap.pg_slow_seconds, snap.pg_slow_seed)
        self.set_clock_skew(snap.clock_skew_s)
        if snap.dns_failure != self.dns_failure:
            self.set_dns_failure(snap.dns_failure)
