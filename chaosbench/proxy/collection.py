"""All proxies of one embedded proxy server, and the operations the API offers on them.

Request bodies are read the way Toxiproxy's Go JSON decoding reads them: keys match fields
case-insensitively (the last matching key wins), unknown keys are ignored, ``null`` leaves a field
as it was, and a value of the wrong JSON type (a string or a fraction for an integer) is a bad
request. Runs in the proxy's hub only (no locks needed: every call completes without yielding).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from chaosbench.proxy import errors
from chaosbench.proxy.errors import ApiError, bad_request, missing_field
from chaosbench.proxy.proxy import Proxy, bind_listener, canonical_listen
from chaosbench.proxy.toxics import catalogue
from chaosbench.proxy.toxics.base import STREAMS, Envelope, Toxic, ToxicAttributes

INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1  # Toxiproxy's integer attributes are Go int64


def _object(body: Any) -> dict[str, Any]:
    """The body's keys folded to lower case (Go matches JSON keys to fields that way)."""
    if not isinstance(body, dict):
        raise bad_request("expected a JSON object")
    return {str(k).lower(): v for k, v in body.items()}


def _str_field(body: dict[str, Any], key: str, default: str = "") -> str:
    value = body.get(key)
    if value is None:
        return default
    if not isinstance(value, str):
        raise bad_request(f"field {key!r} must be a string")
    return value


def _bool_field(body: dict[str, Any], key: str, default: bool) -> bool:
    value = body.get(key)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise bad_request(f"field {key!r} must be true or false")
    return value


def _toxicity(body: dict[str, Any], default: float) -> float:
    value = body.get("toxicity")
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise bad_request("field 'toxicity' must be a number")
    if not 0.0 <= float(value) <= 1.0:
        raise bad_request(f"toxicity {value} is not within 0..1")
    return float(value)


def _attributes(
    model: type[ToxicAttributes], toxic_type: str, raw: Any, base: dict[str, Any]
) -> ToxicAttributes:
    """``raw`` decoded over ``base`` into the toxic's attributes, as Go decodes into its struct.

    Unknown keys are ignored and ``null`` keeps a value; validation is strict, so a string or a
    fraction for an integer attribute is an error (as Go's ``cannot unmarshal``).
    """
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise bad_request("field 'attributes' must be an object")
    fields = model.model_fields
    given = {k: v for k, v in _object(raw).items() if k in fields and v is not None}
    for key, value in given.items():
        integer = fields[key].annotation in (int, int | None)
        if integer and type(value) is int and not INT64_MIN <= value <= INT64_MAX:
            raise bad_request(f"toxic {toxic_type!r} attribute {key}: {value} overflows int64")
    try:
        return model.model_validate_json(json.dumps({**base, **given}), strict=True)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "attributes"
        msg = str(first.get("msg", "invalid")).removeprefix("Value error, ")
        raise bad_request(f"toxic {toxic_type!r} attribute {where}: {msg}") from None


@dataclass(frozen=True)
class ProxyInput:
    """A proxy as a create or populate body gives it, checked (nothing listens yet)."""

    name: str
    listen: str
    upstream: str
    protocol: str
    enabled: bool

    @classmethod
    def parse(cls, body: Any, where: str = "") -> ProxyInput:
        fields = _object(body)
        name = _str_field(fields, "name")
        if not name:
            raise missing_field(f"name{where}")
        upstream = _str_field(fields, "upstream")
        if not upstream:
            raise missing_field(f"upstream{where}")
        spec = cls(
            name,
            _str_field(fields, "listen") or "127.0.0.1:0",
            upstream,
            _str_field(fields, "protocol") or "tcp",
            _bool_field(fields, "enabled", True),
        )
        spec.build()  # validates listen (loopback), upstream and protocol
        return spec

    def build(self) -> Proxy:
        return Proxy(self.name, self.listen, self.upstream, self.protocol)


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
        spec = ProxyInput.parse(body)
        if spec.name in self.proxies:
            raise ApiError(errors.PROXY_EXISTS, 409)
        proxy = spec.build()
        if spec.enabled:
            proxy.start()
        self.proxies[spec.name] = proxy
        return proxy

    def populate(self, body: Any) -> list[Proxy]:
        """Create or replace a list of proxies, all or nothing.

        Toxiproxy's rules: every item is checked before anything changes; an item the same as
        the existing proxy of its name (same address, same upstream) leaves that proxy as it is
        (enabled or not, toxics kept); a different one replaces it (a new proxy, no toxics).
        Unlike Toxiproxy, a listen port that cannot be had changes nothing either: it is tried
        before any proxy is stopped, and should a listener still fail, every proxy is put back.
        """
        if not isinstance(body, list):
            raise bad_request("expected a JSON array of proxies")
        specs = [ProxyInput.parse(item, f" at proxy {i}") for i, item in enumerate(body, 1)]
        self._probe_listeners(specs)
        before = dict(self.proxies)
        was_enabled = [p for p in before.values() if p.enabled]
        created: list[Proxy] = []
        done: list[Proxy] = []
        try:
            for spec in specs:
                existing = self.proxies.get(spec.name)
                if existing is not None:
                    if not existing.differs(spec.listen, spec.upstream, spec.protocol):
                        done.append(existing)
                        continue
                    existing.stop()
                proxy = spec.build()
                created.append(proxy)
                if spec.enabled:
                    proxy.start()
                self.proxies[spec.name] = proxy
                done.append(proxy)
        except ApiError as exc:
            self._put_back(before, was_enabled, created, exc)
            raise
        for old in before.values():
            if self.proxies.get(old.name) is not old:
                old.remove_all_toxics()  # replaced: wake whatever waited on its toxics
        return done

    def _probe_listeners(self, specs: list[ProxyInput]) -> None:
        """A fixed listen port that is taken (and not by one of ours) fails before any change."""
        ours = {p.listen for p in self.proxies.values() if p.enabled}
        for spec in specs:
            listen = canonical_listen(spec.listen)
            if spec.enabled and not listen.endswith(":0") and listen not in ours:
                bind_listener(listen).close()

    def _put_back(
        self,
        before: dict[str, Proxy],
        was_enabled: list[Proxy],
        created: list[Proxy],
        exc: ApiError,
    ) -> None:
        for proxy in created:
            proxy.stop()
        self.proxies.clear()
        self.proxies.update(before)
        lost = []
        for proxy in was_enabled:
            try:
                proxy.start()
            except ApiError:
                lost.append(proxy.name)
        if lost:
            exc.message += f" (and could not listen again for {', '.join(lost)})"

    def update(self, name: str, body: Any) -> Proxy:
        """Toxiproxy's ``ProxyUpdate``: a changed address or upstream restarts the listener."""
        proxy = self.get(name)
        fields = _object(body)
        listen = _str_field(fields, "listen") or proxy.listen
        upstream = _str_field(fields, "upstream") or proxy.upstream
        enabled = _bool_field(fields, "enabled", proxy.enabled)
        if proxy.differs(listen, upstream):
            probe = Proxy(proxy.name, listen, upstream, proxy.protocol)  # validates
            old = (proxy.listen, proxy.upstream, proxy.enabled)
            proxy.stop()
            proxy.listen, proxy.upstream = probe.listen, probe.upstream
            if enabled:
                try:
                    proxy.start()
                except ApiError:
                    proxy.listen, proxy.upstream = old[0], old[1]
                    if old[2]:
                        proxy.start()
                    raise
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
        fields = _object(body)
        toxic_type = _str_field(fields, "type")
        toxicity = _toxicity(fields, 1.0)
        stream = _str_field(fields, "stream", "downstream").lower()
        if stream not in STREAMS:
            raise ApiError(errors.INVALID_STREAM, 400)
        name = _str_field(fields, "name") or f"{toxic_type}_{stream}"
        cls = catalogue().get(toxic_type)
        if cls is None:
            raise ApiError(errors.INVALID_TOXIC_TYPE, 400)
        if cls.kind != "tcp" and proxy.protocol != "http":
            raise ApiError(
                f"toxic type {toxic_type!r} needs a proxy with protocol http "
                f"(proxy {proxy.name!r} is {proxy.protocol})",
                400,
            )
        if name in proxy.toxics:
            raise ApiError(errors.TOXIC_EXISTS, 409)
        attributes = _attributes(cls.Attributes, toxic_type, fields.get("attributes"), {})
        toxic = cls(Envelope(name, toxic_type, stream, toxicity), attributes)
        proxy.add_toxic(toxic)
        return toxic

    def update_toxic(self, proxy_name: str, toxic_name: str, body: Any) -> Toxic:
        """Toxiproxy's ``UpdateToxicJson``: attributes (merged) and toxicity; the rest ignored."""
        proxy = self.get(proxy_name)
        old = proxy.toxics.get(toxic_name)
        if old is None:
            raise ApiError(errors.TOXIC_NOT_FOUND, 404)
        fields = _object(body)
        env = old.envelope
        toxicity = _toxicity(fields, env.toxicity)
        base = old.attributes.model_dump(mode="json", exclude_none=True)
        attributes = _attributes(type(old).Attributes, env.type, fields.get("attributes"), base)
        toxic = type(old)(Envelope(env.name, env.type, env.stream, toxicity), attributes)
        proxy.replace_toxic(toxic)
        return toxic
