"""The fault proxy: a Toxiproxy-compatible server on gevent (``EmbeddedProxy``) and its client.

``chaosbench.proxy.client`` needs nothing but the standard library; the server (gevent) is imported
only when ``EmbeddedProxy`` is first used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from chaosbench.proxy.client import (
    ProxyInfo,
    ProxySpec,
    ToxicInfo,
    ToxiproxyClient,
)

if TYPE_CHECKING:
    from chaosbench.proxy.server import EmbeddedProxy


def __getattr__(name: str) -> Any:
    if name == "EmbeddedProxy":
        import importlib

        return importlib.import_module("chaosbench.proxy.server").EmbeddedProxy
    raise AttributeError(name)


__all__ = [
    "EmbeddedProxy",
    "ProxyInfo",
    "ProxySpec",
    "ToxicInfo",
    "ToxiproxyClient",
]
