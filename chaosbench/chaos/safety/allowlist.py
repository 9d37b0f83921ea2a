"""The allowlist: faults touch only the hosts and networks a profile names (loopback by default).

Entries are IP addresses, CIDR networks (``10.0.0.0/8``) or host names. A target is
``host:port``, ``[v6]:port``, ``host`` or a URL; an IP target matches an address or network
entry, a name matches a name entry literally (names are never resolved: a lookup could block and
could be poisoned). ``pid:``/``process:`` targets are processes on this machine and count as
``localhost``.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from chaosbench.ground.errors import AllowlistError

DEFAULT_ALLOW: tuple[str, ...] = ("127.0.0.1", "localhost", "::1")
_LOCAL_PREFIXES = ("pid:", "process:", "local:", "cmd:")

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


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

    def allows(self, target: str) -> bool:
        try:
            host = target_host(target)
        except ValueError:
            return False
        if not host:
            return False
        try:
            addr = ipaddress.ip_address(host)
        except ValueError:
            return host.lower() in self.names
        return any(addr in n for n in self.networks)

    def check(self, target: str, where: str) -> None:
        """Raise AllowlistError naming ``where`` (a field path) when ``target`` is not allowed."""
        if not self.allows(target):
            raise AllowlistError(
                f"{where}: target {target!r} is not on the allowlist "
                f"(allow: {', '.join(self.describe())})"
            )

    def describe(self) -> list[str]:
        return [str(n) for n in self.networks] + sorted(self.names)
