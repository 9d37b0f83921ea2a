"""http_error (extension): a share ``rate`` of matching requests is answered by the proxy itself
with ``status`` (and ``Retry-After: retry_after`` for 429/503), without being forwarded.

Profile fault ``http_error`` (``status``, ``rate``, ``retry_after``, ``body``,
``paths_include``, ``paths_exclude``; needs a ``protocol: http`` route): intensity scales
``rate``. Seeds: exchange 429/5xx, rate-limit storms.
"""

from __future__ import annotations

import json
from http import HTTPStatus
from typing import Any

from pydantic import Field

from chaosbench.proxy.toxics import register
from chaosbench.proxy.toxics.base import (
    HttpAction,
    HttpResponse,
    HttpState,
    HttpToxic,
    PathAttributes,
)
from chaosbench.proxy.toxics.profile import PathFilter


class HttpErrorAttributes(PathAttributes):
    status: int = 503
    retry_after: float | None = None
    body: str | None = None

    def model_post_init(self, __context: Any) -> None:
        super().model_post_init(__context)
        if not 400 <= self.status <= 599:
            raise ValueError(f"status {self.status} is not an HTTP error status (400..599)")


class HttpErrorSettings(PathFilter):
    status: int = Field(default=503, ge=400, le=599)
    retry_after: int | None = Field(default=None, ge=0)
    body: str | None = None

    def attributes(self, intensity: float) -> dict[str, Any]:
        attrs: dict[str, Any] = {"status": self.status, "rate": self.rate * intensity}
        attrs.update(self.path_attributes())
        if self.retry_after is not None:
            attrs["retry_after"] = self.retry_after
        if self.body is not None:
            attrs["body"] = self.body
        return attrs


class HttpErrorState(HttpState):
    def on_request(self, method: str, path: str) -> HttpAction | None:
        a = self.toxic.attributes
        assert isinstance(a, HttpErrorAttributes)
        if not a.applies(path) or not self.toxic.chance(a.rate):
            return None
        if a.body is not None:
            body = a.body.encode()
            ctype = "text/plain; charset=utf-8"
        else:
            try:
                reason = HTTPStatus(a.status).phrase
            except ValueError:
                reason = "Error"
            body = json.dumps(
                {"error": reason, "status": a.status, "injected_by": "chaosbench-proxy"}
            ).encode()
            ctype = "application/json"
        headers = [("Content-Type", ctype), ("X-Chaosbench-Toxic", self.toxic.name)]
        if a.retry_after is not None and a.status in (429, 503):
            headers.append(("Retry-After", f"{a.retry_after:g}"))
        return HttpAction(respond=HttpResponse(a.status, headers, body))


@register
class HttpError(HttpToxic):
    type_name = "http_error"
    Attributes = HttpErrorAttributes
    State = HttpErrorState
    profile_name = "http_error"
    Profile = HttpErrorSettings
