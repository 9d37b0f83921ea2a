"""The allowlist: faults touch only the hosts and networks a profile names (loopback by default).

Entries are IP addresses, CIDR networks (``10.0.0.0/8``) or host names. A target is
``host:port``, ``[v6]:port``, ``host`` or a URL. An IP target must be inside an address or
network entry. A name the list names is trusted as that name (``allow: [postgres]`` in a compose
network). Any other name is resolved (a lookup bounded in time,
:func:`chaosbench.ground.endpoints.resolve_host`) and EVERY address it resolves to must be
inside an address or network entry, or be an address a listed name resolves to; a name that does
not resolve is refused. ``pid:``/``process:``/``cmd:``
targets (processes on this machine) and ``local:`` targets (Unix sockets) are this machine: they
are allowed when the list allows a loopback address (or names ``localhost``).

Callers check the *effective* target (``ground.endpoints.pg_endpoints``/``redis_endpoint``:
where the client library really connects, environment and service files applied), not the
literal one.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from chaosbench.ground.endpoints import resolve_host
from chaosbench.ground.errors import AllowlistError

DEFAULT_ALLOW: tuple[str, ...] = ("127.0.0.1", "localhost", "::1")
_LOCAL_PREFIXES = ("pid:", "process:", "local:", "cmd:")

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str], list[str]]
_LOOPBACK = (ipaddress.ip_address("127.0.0.1"), ipaddress.ip_address("::1"))


_LABEL = r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?"
_HOST_NAME = re.compile(rf"(?=.{{1,253}}$){_LABEL}(?:\.{_LABEL})*\.?")


def parse_entry(entry: str) -> Network | str:
    """An allowlist entry as a network (an address is a /32 or /128) or a lower-case name.

    Digits and dots only (``999.1.1.1``, ``10.1``) is a mistyped IPv4 address, never a name.
    """
    text = entry.strip()
    if not text:
        raise ValueError("empty allowlist entry")
    shown = repr(text) if len(text) <= 60 else repr(text[:57]) + "..."
    try:
        return ipaddress.ip_network(text, strict=False)
    except ValueError:
        pass
    if re.fullmatch(r"[0-9.]+(/.*)?", text):
        raise ValueError(
            f"{shown} is not a valid IPv4 address or network "
            "(four numbers 0-255, e.g. 10.0.0.1 or 10.0.0.0/8)"
        )
    name = text.lower()
    if not _HOST_NAME.fullmatch(name):
        raise ValueError(f"{shown} is neither an address, a CIDR network nor a host name")
    return name


def target_host(target: str) -> str:
    """The host part of ``target`` (``host:port``, ``[::1]:80``, URL, bare host)."""
    text = target.strip()
    if text.startswith(_LOCAL_PREFIXES):
        return "localhost"
    if "://" in text:
        host = urlsplit(text).hostname
        if not host:
            raise ValueError(f"no host in {target!r}")
        return host
    if text.startswith("["):
        end = text.find("]")
        if end < 0:
            raise ValueError(f"unbalanced brackets in {target!r}")
        return text[1:end]
    if text.count(":") == 1:
        return text.split(":", 1)[0]
    return text  # bare host, or a bare IPv6 address


@dataclass(frozen=True)
class Allowlist:
    networks: tuple[Network, ...]
    names: frozenset[str]

    @classmethod
    def parse(cls, entries: list[str] | tuple[str, ...]) -> Allowlist:
        nets: list[Network] = []
        names: set[str] = set()
        for e in entries:
            p = parse_entry(e)
            if isinstance(p, str):
                names.add(p)
            else:
                nets.append(p)
        return cls(tuple(nets), frozenset(names))

    def allows(self, target: str, resolver: Resolver = resolve_host) -> bool:
        return self.refusal(target, resolver) is None

    def refusal(self, target: str, resolver: Resolver = resolve_host) -> str | None:
        """Why ``target`` is not allowed (one phrase naming it), or None when it is."""
        if target.strip().startswith(_LOCAL_PREFIXES):
            if "localhost" in self.names or any(self._address_allowed(a) for a in _LOOPBACK):
                return None
            return f"target {target!r} is this machine, and no loopback address is allowed"
        try:
            host = target_host(target)
        except ValueError as exc:
            return f"target {target!r}: {exc}"
        if not host:
            return f"target {target!r} names no host"
        try:
            literal = ipaddress.ip_address(host)
        except ValueError:
            literal = None
        if literal is not None:
            if self._address_allowed(literal):
                return None
            return f"target {target!r} is not on the allowlist"
        if host.lower() in self.names:
            return None  # a name the profile lists is trusted as that name
        try:
            addresses = [ipaddress.ip_address(a) for a in resolver(host)]
        except (OSError, ValueError) as exc:
            return f"target {target!r} is not on the allowlist: {exc}"
        off = [a for a in addresses if not self._address_allowed(a)]
        if off:
            named = self._named_addresses(resolver)
            off = [a for a in off if a not in named]
        if off:
            return (
                f"target {target!r} is not on the allowlist: {host} resolves to "
                f"{', '.join(map(str, off))}"
            )
        return None

    def _address_allowed(self, addr: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
        return any(addr in n for n in self.networks)

    def _named_addresses(
        self, resolver: Resolver
    ) -> set[ipaddress.IPv4Address | ipaddress.IPv6Address]:
        """The addresses the name entries resolve to now (a name that does not resolve allows
        nothing)."""
        out: set[ipaddress.IPv4Address | ipaddress.IPv6Address] = set()
        for name in self.names:
            try:
                out.update(ipaddress.ip_address(a) for a in resolver(name))
            except (OSError, ValueError):
                continue
        return out

    def check(self, target: str, where: str, resolver: Resolver = resolve_host) -> None:
        """Raise AllowlistError naming ``where`` (a field path) when ``target`` is not allowed."""
        reason = self.refusal(target, resolver)
        if reason is not None:
            raise AllowlistError(f"{where}: {reason} (allow: {', '.join(self.describe())})")

    def describe(self) -> list[str]:
        return [str(n) for n in self.networks] + sorted(self.names)
