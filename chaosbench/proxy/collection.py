"""All proxies of one embedded proxy server, and the operations the API offers on them.

Runs in the proxy's hub only (no locks needed: every call completes without yielding).
"""

from __future__ import annotations

from typing import Any

from pydantic import ValidationError

from chaosbench.proxy import errors
from chaosbench.proxy.errors import ApiError, bad_request, missing_field
from chaosbench.proxy.proxy import Proxy
from chaosbench.proxy.toxics import catalogue
from chaosbench.proxy.toxics.base import STREAMS, Envelope, Toxic


def _str_field(body: dict[str, Any], key: str, default: str = "") -> str:
    value = body.get(key, default)
    if value is None:
        return default
    if not isinstance(value, str):
        raise bad_request(f"field {key!r} must be a string")
    return value


def _bool_field(body: dict[str, Any], key: str, default: bool) -> bool:
    value = body.get(key, default)
    if not isinstance(value, bool):
        raise bad_request(f"field {key!r} must be true or false")
    return value


def _validation_message(exc: ValidationError, toxic_type: str) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first.get("loc", ())) or "attributes"
    msg = str(first.get("msg", "invalid")).removeprefix("Value error, ")
    return f"toxic {toxic_type!r} attribute {where}: {msg}"


class ProxyCollection:
    def __init__(self) -> None:
        self.proxies: dict[str, Proxy] = {}

    def get(self, name: str) -> Proxy:
        proxy = self.proxies.get(name)
        if proxy is None:
            raise ApiError(errors.PROXY_NOT_FOUND, 404)
        return proxy

    # -- proxies -----------------------------------------------------------------------------

    def create(self, body: Any) -> Proxy:
        if not isinstance(body, dict):
            raise bad_request("expected a JSON object")
        name = _str_field(body, "name")
        if not name:
            raise missing_field("name")
        upstream = _str_field(body, "upstream")
        if not upstream:
            raise missing_field("upstream")
        if name in self.proxies:
            raise ApiError(errors.PROXY_EXISTS, 409)
        proxy = Proxy(
            name,
            _str_field(body, "listen", "127.0.0.1:0"),
            upstream,
            _str_field(body, "protocol", "tcp") or "tcp",
        )
        if _bool_field(body, "enabled", True):
            proxy.start()
        self.proxies[name] = proxy
        return proxy

    def populate(self, body: Any) -> list[Proxy]:
        """Create or replace a list of proxies; on error, the ones created here are removed."""
        if not isinstance(body, list):
            raise bad_request("expected a JSON array of proxies")
        done: list[Proxy] = []
        created: list[str] = []
        try:
            for item in body:
                if not isinstance(item, dict):
                    raise bad_request("expected a JSON object per proxy")
                name = _str_field(item, "name")
                existing = self.proxies.get(name)
                if existing is not None:
                    same = (
                        existing.upstream == _str_field(item, "upstream")
                        and existing.protocol == (_str_field(item, "protocol", "tcp") or "tcp")
                        and _same_listen(existing.listen, _str_field(item, "listen"))
                    )
                    if same:
                        if _bool_field(item, "enabled", True):
                            existing.start()
                        done.append(existing)
                        continue
                    self.delete(name)
                proxy = self.create(item)
                created.append(proxy.name)
                done.append(proxy)
        except ApiError:
            for name in created:
                self.delete(name)
            raise
        return done

    def update(self, name: str, body: Any) -> Proxy:
        proxy = self.get(name)
        if not isinstance(body, dict):
            raise bad_request("expected a JSON object")
        listen = _str_field(body, "listen", proxy.listen) or proxy.listen
        upstream = _str_field(body, "upstream", proxy.upstream) or proxy.upstream
        enabled = _bool_field(body, "enabled", proxy.enabled)
        if listen != proxy.listen or upstream != proxy.upstream:
            probe = Proxy(proxy.name, listen, upstream, proxy.protocol)  # validates
            proxy.stop()
            proxy.listen, proxy.upstream = probe.listen, probe.upstream
        if enabled:
            proxy.start()
        else:
            proxy.stop()
        return proxy

    def delete(self, name: str) -> None:
        proxy = self.get(name)
        proxy.remove_all_toxics()
        proxy.stop()
        del self.proxies[name]

    def reset(self) -> None:
        """Enable every proxy and remove every toxic (Toxiproxy's ``POST /reset``)."""
        first_error: ApiError | None = None
        for proxy in self.proxies.values():
            proxy.remove_all_toxics()
            try:
                proxy.start()
            except ApiError as exc:
                first_error = first_error or exc
        if first_error is not None:
            raise first_error

    def close(self) -> None:
        for proxy in list(self.proxies.values()):
            proxy.remove_all_toxics()
            proxy.stop()
        self.proxies.clear()

    # -- toxics ------------------------------------------------------------------------------

    def add_toxic(self, proxy_name: str, body: Any) -> Toxic:
        proxy = self.get(proxy_name)
        if not isinstance(body, dict):
            raise bad_request("expected a JSON object")
        toxic_type = _str_field(body, "type")
        cls = catalogue().get(toxic_type)
        if cls is None:
            raise ApiError(errors.INVALID_TOXIC_TYPE, 400)
        stream = _str_field(body, "stream", "downstream") or "downstream"
        if stream not in STREAMS:
            raise ApiError(errors.INVALID_STREAM, 400)
        if cls.kind != "tcp" and proxy.protocol != "http":
            raise ApiError(
                f"toxic type {toxic_type!r} needs a proxy with protocol http "
                f"(proxy {proxy.name!r} is {proxy.protocol})",
                400,
            )
        name = _str_field(body, "name") or f"{toxic_type}_{stream}"
        if name in proxy.toxics:
            raise ApiError(errors.TOXIC_EXISTS, 409)
        toxic = self._build(cls, name, toxic_type, stream, body.get("toxicity", 1.0), body)
        proxy.add_toxic(toxic)
        return toxic

    def update_toxic(self, proxy_name: str, toxic_name: str, body: Any) -> Toxic:
        proxy = self.get(proxy_name)
        old = proxy.toxics.get(toxic_name)
        if old is None:
            raise ApiError(errors.TOXIC_NOT_FOUND, 404)
        if not isinstance(body, dict):
            raise bad_request("expected a JSON object")
        merged = {
            "attributes": {
                **old.attributes.model_dump(exclude_none=True),
                **(body.get("attributes") or {}),
            }
        }
        stream = _str_field(body, "stream", old.envelope.stream) or old.envelope.stream
        if stream not in STREAMS:
            raise ApiError(errors.INVALID_STREAM, 400)
        toxicity = body.get("toxicity", old.envelope.toxicity)
        toxic = self._build(type(old), toxic_name, old.envelope.type, stream, toxicity, merged)
        proxy.replace_toxic(toxic)
        return toxic

    @staticmethod
    def _build(
        cls: type[Toxic], name: str, toxic_type: str, stream: str, toxicity: Any, body: Any
    ) -> Toxic:
        if isinstance(toxicity, bool) or not isinstance(toxicity, int | float):
            raise bad_request("field 'toxicity' must be a number")
        if not 0.0 <= float(toxicity) <= 1.0:
            raise bad_request(f"toxicity {toxicity} is not within 0..1")
        attrs = body.get("attributes") or {}
        if not isinstance(attrs, dict):
            raise bad_request("field 'attributes' must be an object")
        try:
            attributes = cls.Attributes.model_validate(attrs)
        except ValidationError as exc:
            raise bad_request(_validation_message(exc, toxic_type)) from None
        return cls(Envelope(name, toxic_type, stream, float(toxicity)), attributes)


def _same_listen(current: str, wanted: str) -> bool:
    if not wanted:
        return True
    return current == wanted or wanted.endswith(":0")
