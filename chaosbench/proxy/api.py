"""Toxiproxy's HTTP API as a WSGI application over a ``ProxyCollection``.

Same routes, JSON shapes, status codes and error bodies (``{"error": ..., "status": ...}``) as
Toxiproxy 2.x; every answer also carries ``X-Chaosbench-Proxy`` so that a client can tell the
embedded proxy (which has the extension toxics) from a real Toxiproxy.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from http import HTTPStatus
from typing import Any
from urllib.parse import unquote

from chaosbench.proxy.client import EMBEDDED_HEADER
from chaosbench.proxy.collection import ProxyCollection
from chaosbench.proxy.errors import TOXIC_NOT_FOUND, ApiError, bad_request

VERSION = "2.12.0-chaosbench"

StartResponse = Callable[..., Any]
UPDATE_METHODS = ("POST", "PATCH")  # Toxiproxy 2.6+: PATCH, POST kept (deprecated)
Result = tuple[int, Any]  # (status, JSON body or None); a str body is sent as text/plain


def _no_constant(name: str) -> Any:
    raise ValueError(f"invalid character {name[0]!r} looking for beginning of value")


def decode_json(raw: bytes) -> Any:
    """The first JSON value of a body, as Go's ``json.Decoder.Decode`` reads it.

    An empty body is ``EOF``; NaN and Infinity are not JSON; what follows the value is ignored.
    """
    text = raw.decode("utf-8", "replace").lstrip()
    if not text:
        raise bad_request("EOF")
    try:
        value, _ = json.JSONDecoder(parse_constant=_no_constant).raw_decode(text)
    except ValueError as exc:
        raise bad_request(str(exc)) from None
    return value


class ApiApp:
    def __init__(self, collection: ProxyCollection) -> None:
        self.collection = collection

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET")
        raw_path = environ.get("PATH_INFO", "/")
        parts = [unquote(p) for p in raw_path.strip("/").split("/") if p]
        if environ.get("HTTP_USER_AGENT", "").startswith("Mozilla/"):
            # Toxiproxy's stopBrowsersMiddleware: a web page must not drive the API
            return self._respond(start_response, 403, "User agent not allowed\n")
        try:
            status, body = self._route(method, parts, environ)
        except ApiError as exc:
            status, body = exc.status, exc.to_json()
        except Exception as exc:  # never let a bug take the API down
            status, body = 500, {"error": f"internal error: {exc}", "status": 500}
        return self._respond(start_response, status, body)

    @staticmethod
    def _respond(start_response: StartResponse, status: int, body: Any) -> list[bytes]:
        headers = [(EMBEDDED_HEADER, "1")]
        if body is None:
            payload = b""
        elif isinstance(body, str):
            payload = body.encode()
            headers.append(("Content-Type", "text/plain;charset=utf-8"))
        else:
            payload = json.dumps(body).encode()
            headers.append(("Content-Type", "application/json"))
        headers.append(("Content-Length", str(len(payload))))
        start_response(f"{status} {HTTPStatus(status).phrase}", headers)
        return [payload]

    @staticmethod
    def _body(environ: dict[str, Any]) -> Any:
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        raw = environ["wsgi.input"].read(length) if length else environ["wsgi.input"].read()
        return decode_json(raw)

    def _route(self, method: str, parts: list[str], environ: dict[str, Any]) -> Result:
        c = self.collection
        n = len(parts)
        if parts == ["version"] and method == "GET":
            return 200, {"version": VERSION}
        if parts == ["reset"] and method == "POST":
            c.reset()
            return 204, None
        if parts == ["populate"] and method == "POST":
            try:
                proxies = c.populate(self._body(environ))
            except ApiError as exc:
                return exc.status, {**exc.to_json(), "proxies": []}
            return 201, {"proxies": [p.to_json() for p in proxies]}
        if n >= 1 and parts[0] == "proxies":
            if n == 1:
                if method == "GET":
                    return 200, {name: p.to_json() for name, p in c.proxies.items()}
                if method == "POST":
                    return 201, c.create(self._body(environ)).to_json()
            elif n == 2:
                name = parts[1]
                if method == "GET":
                    return 200, c.get(name).to_json()
                if method in UPDATE_METHODS:
                    c.get(name)  # as Toxiproxy: the proxy is looked up before the body is read
                    return 200, c.update(name, self._body(environ)).to_json()
                if method == "DELETE":
                    c.delete(name)
                    return 204, None
            elif n == 3 and parts[2] == "toxics":
                if method == "GET":
                    return 200, [t.to_json() for t in c.get(parts[1]).toxic_list()]
                if method == "POST":
                    c.get(parts[1])
                    return 200, c.add_toxic(parts[1], self._body(environ)).to_json()
            elif n == 4 and parts[2] == "toxics" and method in ("GET", "DELETE", *UPDATE_METHODS):
                proxy = c.get(parts[1])
                if method == "DELETE":
                    proxy.remove_toxic(parts[3])
                    return 204, None
                toxic = proxy.toxics.get(parts[3])
                if toxic is None:
                    raise ApiError(TOXIC_NOT_FOUND, 404)
                if method == "GET":
                    return 200, toxic.to_json()
                return 200, c.update_toxic(parts[1], parts[3], self._body(environ)).to_json()
        known = parts in (["version"], ["reset"], ["populate"]) or (
            n >= 1 and parts[0] == "proxies" and (n <= 2 or (parts[2] == "toxics" and n <= 4))
        )
        if known:
            return 405, "405 method not allowed\n"
        return 404, "404 page not found\n"
