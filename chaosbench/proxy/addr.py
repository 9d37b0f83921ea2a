"""``host:port`` addresses, and the loopback rule for listen addresses."""

from __future__ import annotations

import ipaddress

from chaosbench.proxy.errors import ApiError

LOOPBACK_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost"}


def split_hostport(addr: str, what: str) -> tuple[str, int]:
    host, sep, port = addr.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65535:
        raise ApiError(f"{what} address {addr!r} is not host:port", 400)
    host = host.strip("[]")
    return host or "127.0.0.1", int(port)


def is_loopback(host: str) -> bool:
    if host.lower() in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def loopback_listen(addr: str) -> tuple[str, int]:
    """Parse a listen address; refuse anything that is not loopback."""
    host, port = split_hostport(addr or "127.0.0.1:0", "listen")
    if not is_loopback(host):
        raise ApiError(
            f"listen address {addr!r} is not a loopback address: "
            "the embedded proxy listens on loopback only",
            400,
        )
    if host.lower() in LOOPBACK_NAMES:
        host = "127.0.0.1"
    return host, port


def join_hostport(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
