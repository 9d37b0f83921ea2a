"""A typed client for the Toxiproxy HTTP API (the embedded proxy or a real Toxiproxy).

Stdlib ``http.client`` only, one short connection per call: it works from plain threads and from
gevent code (Locust monkey-patches sockets, and ``http.client`` then yields to the loop).

Every failure is a :class:`chaosbench.ground.errors.ProxyError` with one line naming the proxy or
toxic and the server's own message. Toxic types that only the embedded proxy has (the toxic's
``extension``: HTTP and WebSocket toxics by their kind, and TCP toxics Toxiproxy lacks such as
``packet_loss``) are refused *before* anything is sent when the server is a real Toxiproxy; only
then is the toxic catalogue (which imports gevent) read.
"""

from __future__ import annotations

import http.client
import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlsplit

from chaosbench.ground.defaults import PROXY_API_PORT
from chaosbench.ground.errors import ProxyError

#: Response header by which the embedded proxy tells itself apart from a real Toxiproxy.
EMBEDDED_HEADER = "X-Chaosbench-Proxy"

STREAMS = ("upstream", "downstream")


@dataclass(frozen=True)
class ToxicInfo:
    """A toxic as the API shows it: the generic envelope plus the toxic's own attributes."""

    name: str
    type: str
    stream: str = "downstream"
    toxicity: float = 1.0
    attributes: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ToxicInfo:
        return cls(
            name=str(data.get("name", "")),
            type=str(data.get("type", "")),
            stream=str(data.get("stream", "downstream")),
            toxicity=float(data.get("toxicity", 1.0)),
            attributes=dict(data.get("attributes") or {}),
        )


@dataclass(frozen=True)
class ProxySpec:
    """What to create: a named route from ``listen`` to ``upstream`` (``host:port``)."""

    name: str
    listen: str
    upstream: str
    enabled: bool = True
    protocol: str = "tcp"

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "name": self.name,
            "listen": self.listen,
            "upstream": self.upstream,
            "enabled": self.enabled,
        }
        if self.protocol != "tcp":
            body["protocol"] = self.protocol
        return body


@dataclass(frozen=True)
class ProxyInfo:
    """A proxy as the API shows it (``listen`` is the actual address, port resolved)."""

    name: str
    listen: str
    upstream: str
    enabled: bool
    protocol: str = "tcp"
    toxics: tuple[ToxicInfo, ...] = ()

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ProxyInfo:
        return cls(
            name=str(data.get("name", "")),
            listen=str(data.get("listen", "")),
            upstream=str(data.get("upstream", "")),
            enabled=bool(data.get("enabled", False)),
            protocol=str(data.get("protocol") or "tcp"),
            toxics=tuple(ToxicInfo.from_json(t) for t in data.get("toxics") or []),
        )


@dataclass
class _Response:
    status: int
    body: bytes
    headers: dict[str, str]

    def json(self) -> Any:
        try:
            return json.loads(self.body or b"null")
        except ValueError:
            return None

    def message(self) -> str:
        """The server's error message (Toxiproxy: ``{"error": ..., "status": ...}``)."""
        data = self.json()
        if isinstance(data, dict):
            for key in ("error", "title", "message"):
                if data.get(key):
                    return str(data[key])
        text = self.body.decode("utf-8", "replace").strip().splitlines()
        return text[0] if text else f"HTTP {self.status}"


def is_extension(toxic_type: str) -> bool:
    """True when only chaosbench's embedded proxy has toxics of this type (from the toxic
    catalogue; an unknown type is left to the server to refuse)."""
    from chaosbench.proxy.toxics import catalogue

    toxic = catalogue().get(toxic_type)
    return toxic is not None and toxic.extension


def extension_refused(toxic_type: str) -> ProxyError:
    return ProxyError(
        f"toxic type {toxic_type!r} is an extension of chaosbench's embedded proxy; "
        "a real Toxiproxy does not have it"
    )


class ToxiproxyClient:
    """Client of a Toxiproxy-compatible API at ``url`` (``http://host:port`` or ``host:port``)."""

    def __init__(self, url: str, timeout: float = 5.0) -> None:
        raw = url if "://" in url else f"http://{url}"
        parts = urlsplit(raw)
        if parts.scheme != "http" or not parts.hostname:
            raise ProxyError(f"fault proxy API url {url!r} is not http://host:port")
        self.url = f"http://{parts.hostname}:{parts.port or PROXY_API_PORT}"
        self.host = parts.hostname
        self.port = parts.port or PROXY_API_PORT
        self.timeout = timeout
        self._embedded: bool | None = None

    # -- transport ---------------------------------------------------------------------------

    def _request(self, method: str, path: str, body: Any = None, what: str = "") -> _Response:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        payload = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json"} if payload is not None else {}
        try:
            conn.request(method, path, body=payload, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
            return _Response(resp.status, data, {k.lower(): v for k, v in resp.getheaders()})
        except (OSError, http.client.HTTPException) as exc:
            where = f"{what}: " if what else ""
            raise ProxyError(
                f"{where}fault proxy API at {self.url} unreachable "
                f"({method} {path}: {exc or type(exc).__name__})"
            ) from None
        finally:
            conn.close()

    def _call(
        self,
        method: str,
        path: str,
        body: Any = None,
        what: str = "",
        ok: tuple[int, ...] = (200, 201, 204),
    ) -> _Response:
        resp = self._request(method, path, body, what)
        if resp.status not in ok:
            where = f"{what}: " if what else ""
            raise ProxyError(f"{where}{resp.message()} (HTTP {resp.status} from {self.url}{path})")
        return resp

    @staticmethod
    def _q(name: str) -> str:
        return quote(name, safe="")

    # -- server ------------------------------------------------------------------------------

    def version(self) -> str:
        """The server's version: Toxiproxy >= 2.7 answers ``{"version": ...}``, older ones text."""
        resp = self._call("GET", "/version", what="version")
        data = resp.json()
        self._embedded = EMBEDDED_HEADER.lower() in resp.headers
        if isinstance(data, dict) and isinstance(data.get("version"), str):
            return str(data["version"]).strip()
        if isinstance(data, str):
            return data.strip()
        return resp.body.decode("utf-8", "replace").strip()

    def is_embedded(self) -> bool:
        """True when the server is chaosbench's embedded proxy (asked once, then cached)."""
        if self._embedded is None:
            self.version()
        return bool(self._embedded)

    def reset(self) -> None:
        """Enable every proxy and remove every toxic."""
        self._call("POST", "/reset", what="reset")

    # -- proxies -----------------------------------------------------------------------------

    def proxies(self) -> dict[str, ProxyInfo]:
        data = self._call("GET", "/proxies", what="proxies").json() or {}
        return {name: ProxyInfo.from_json(p) for name, p in data.items()}

    def proxy(self, name: str) -> ProxyInfo:
        resp = self._call("GET", f"/proxies/{self._q(name)}", what=f"proxy {name!r}")
        return ProxyInfo.from_json(resp.json())

    def _check_protocol(self, spec: ProxySpec) -> None:
        if spec.protocol not in ("tcp", "http"):
            raise ProxyError(
                f"proxy {spec.name!r}: protocol {spec.protocol!r} is not one of tcp, http"
            )
        if spec.protocol != "tcp" and not self.is_embedded():
            raise ProxyError(
                f"proxy {spec.name!r}: protocol {spec.protocol!r} is an extension of "
                "chaosbench's embedded proxy; a real Toxiproxy does not have it"
            )

    def create_proxy(
        self,
        name: str,
        listen: str,
        upstream: str,
        enabled: bool = True,
        protocol: str = "tcp",
    ) -> ProxyInfo:
        spec = ProxySpec(name, listen, upstream, enabled, protocol)
        self._check_protocol(spec)
        resp = self._call("POST", "/proxies", spec.to_json(), what=f"proxy {name!r}")
        return ProxyInfo.from_json(resp.json())

    def populate(self, specs: list[ProxySpec]) -> list[ProxyInfo]:
        """Create or replace the given proxies (Toxiproxy's ``POST /populate``)."""
        for spec in specs:
            self._check_protocol(spec)
        names = ", ".join(s.name for s in specs)
        resp = self._call(
            "POST", "/populate", [s.to_json() for s in specs], what=f"populate [{names}]"
        )
        data = resp.json()
        items = data.get("proxies") if isinstance(data, dict) else data
        return [ProxyInfo.from_json(p) for p in items or []]

    def delete_proxy(self, name: str) -> None:
        """Delete a proxy; a proxy that does not exist is fine."""
        self._call("DELETE", f"/proxies/{self._q(name)}", what=f"proxy {name!r}", ok=(204, 404))

    def set_enabled(self, name: str, enabled: bool) -> ProxyInfo:
        """Take a route down (existing connections closed, new ones refused) or bring it up."""
        resp = self._call(
            "POST", f"/proxies/{self._q(name)}", {"enabled": enabled}, what=f"proxy {name!r}"
        )
        return ProxyInfo.from_json(resp.json())

    # -- toxics ------------------------------------------------------------------------------

    def toxics(self, proxy: str) -> list[ToxicInfo]:
        resp = self._call("GET", f"/proxies/{self._q(proxy)}/toxics", what=f"proxy {proxy!r}")
        return [ToxicInfo.from_json(t) for t in resp.json() or []]

    def toxic(self, proxy: str, toxic_name: str) -> ToxicInfo | None:
        """One toxic, or None when it does not exist."""
        resp = self._call(
            "GET",
            f"/proxies/{self._q(proxy)}/toxics/{self._q(toxic_name)}",
            what=f"proxy {proxy!r} toxic {toxic_name!r}",
            ok=(200, 404),
        )
        return None if resp.status == 404 else ToxicInfo.from_json(resp.json())

    def add_toxic(
        self,
        proxy: str,
        type: str,
        attributes: dict[str, Any],
        stream: str = "downstream",
        toxicity: float = 1.0,
        name: str | None = None,
    ) -> str:
        """Add a toxic; returns its name (Toxiproxy's default: ``<type>_<stream>``)."""
        toxic_name = name or f"{type}_{stream}"
        what = f"proxy {proxy!r} toxic {toxic_name!r}"
        if stream not in STREAMS:
            raise ProxyError(f"{what}: stream {stream!r} is not upstream or downstream")
        if not 0.0 <= toxicity <= 1.0:
            raise ProxyError(f"{what}: toxicity {toxicity} is not within 0..1")
        if not self.is_embedded() and is_extension(type):
            raise extension_refused(type)
        body = {
            "name": toxic_name,
            "type": type,
            "stream": stream,
            "toxicity": toxicity,
            "attributes": attributes,
        }
        resp = self._call("POST", f"/proxies/{self._q(proxy)}/toxics", body, what=what)
        data = resp.json()
        return str(data.get("name", toxic_name)) if isinstance(data, dict) else toxic_name

    def update_toxic(
        self,
        proxy: str,
        toxic_name: str,
        attributes: dict[str, Any] | None = None,
        toxicity: float | None = None,
    ) -> ToxicInfo:
        """Change a toxic's attributes (merged into the existing ones) and/or toxicity."""
        body: dict[str, Any] = {}
        if attributes is not None:
            body["attributes"] = attributes
        if toxicity is not None:
            body["toxicity"] = toxicity
        resp = self._call(
            "POST",
            f"/proxies/{self._q(proxy)}/toxics/{self._q(toxic_name)}",
            body,
            what=f"proxy {proxy!r} toxic {toxic_name!r}",
        )
        return ToxicInfo.from_json(resp.json())

    def remove_toxic(self, proxy: str, toxic_name: str) -> None:
        """Remove a toxic; a toxic (or proxy) that is already gone is fine."""
        self._call(
            "DELETE",
            f"/proxies/{self._q(proxy)}/toxics/{self._q(toxic_name)}",
            what=f"proxy {proxy!r} toxic {toxic_name!r}",
            ok=(204, 404),
        )
