"""http_error: the proxy answers a share of HTTP requests itself with ``status`` (429 with
``Retry-After``, 5xx) instead of forwarding them; by path with include/exclude prefixes.

Extension toxic of the embedded proxy (refused by a real Toxiproxy). Intensity scales ``rate``.
Seeds: exchange 429/5xx, rate-limit storms.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from chaosbench.chaos.faults._toxic import PathFilter, ToxicFault, seed_from
from chaosbench.chaos.faults.base import register


class HttpErrorSettings(PathFilter):
    status: int = Field(default=503, ge=400, le=599)
    rate: float = Field(default=1.0, ge=0.0, le=1.0)
    retry_after: int | None = Field(default=None, ge=0)
    body: str | None = None


@register
class HttpError(ToxicFault[HttpErrorSettings]):
    type_name = "http_error"
    toxic_type = "http_error"
    Settings = HttpErrorSettings
    protocols: ClassVar[tuple[str, ...]] = ("http",)

    def attributes(self) -> dict[str, Any]:
        s = self.settings
        attrs: dict[str, Any] = {
            "status": s.status,
            "rate": s.rate * self.intensity,
            "paths_include": list(s.paths_include),
            "paths_exclude": list(s.paths_exclude),
            "seed": seed_from(self),
        }
        if s.retry_after is not None:
            attrs["retry_after"] = s.retry_after
        if s.body is not None:
            attrs["body"] = s.body
        return attrs
