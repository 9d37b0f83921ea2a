"""http_delay: a share of HTTP requests is held ``delay_ms`` (± ``jitter_ms``) before it is
forwarded; by path with include/exclude prefixes.

Extension toxic of the embedded proxy. Intensity scales ``delay_ms`` and ``jitter_ms``.
Seeds: API timeouts, slow exchange answers.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import Field

from chaosbench.chaos.faults._toxic import PathFilter, ToxicFault, seed_from
from chaosbench.chaos.faults.base import register


class HttpDelaySettings(PathFilter):
    delay_ms: int = Field(ge=0, le=600_000)
    jitter_ms: int = Field(default=0, ge=0, le=600_000)
    rate: float = Field(default=1.0, ge=0.0, le=1.0)


@register
class HttpDelay(ToxicFault[HttpDelaySettings]):
    type_name = "http_delay"
    toxic_type = "http_delay"
    Settings = HttpDelaySettings
    protocols: ClassVar[tuple[str, ...]] = ("http",)

    def attributes(self) -> dict[str, Any]:
        s = self.settings
        return {
            "delay_ms": round(s.delay_ms * self.intensity),
            "jitter_ms": round(s.jitter_ms * self.intensity),
            "rate": s.rate,
            "paths_include": list(s.paths_include),
            "paths_exclude": list(s.paths_exclude),
            "seed": seed_from(self),
        }
