"""http_delay (extension): a share ``rate`` of matching requests is held ``delay_ms``
(± ``jitter_ms``) before it is forwarded.

Profile fault ``http_delay`` (``delay_ms``, ``jitter_ms``, ``rate``, ``paths_include``,
``paths_exclude``; needs a ``protocol: http`` route): intensity scales ``delay_ms`` and
``jitter_ms``. Seeds: API timeouts, slow exchange answers.
"""

from __future__ import annotations

from typing import Any

from chaosbench.proxy.toxics import register
from chaosbench.proxy.toxics.base import HttpAction, HttpState, HttpToxic, PathAttributes
from chaosbench.proxy.toxics.profile import DelaySettings, PathFilter


class HttpDelayAttributes(PathAttributes):
    delay_ms: float = 0.0
    jitter_ms: float = 0.0


class HttpDelaySettings(PathFilter, DelaySettings):
    def attributes(self, intensity: float) -> dict[str, Any]:
        return {**super().attributes(intensity), **self.path_attributes()}


class HttpDelayState(HttpState):
    def on_request(self, method: str, path: str) -> HttpAction | None:
        a = self.toxic.attributes
        assert isinstance(a, HttpDelayAttributes)
        if not a.applies(path) or not self.toxic.chance(a.rate):
            return None
        delay = a.delay_ms
        if a.jitter_ms > 0:
            delay += self.toxic.rng.uniform(-a.jitter_ms, a.jitter_ms)
        return HttpAction(delay=max(0.0, delay) / 1000.0)


@register
class HttpDelay(HttpToxic):
    type_name = "http_delay"
    Attributes = HttpDelayAttributes
    State = HttpDelayState
    profile_name = "http_delay"
    Profile = HttpDelaySettings
