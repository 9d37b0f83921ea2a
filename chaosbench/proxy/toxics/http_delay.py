"""http_delay (extension): a share ``rate`` of matching requests is held ``delay_ms``
(± ``jitter_ms``) before it is forwarded."""

from __future__ import annotations

from chaosbench.proxy.toxics import register
from chaosbench.proxy.toxics.base import HttpAction, HttpState, HttpToxic, PathAttributes


class HttpDelayAttributes(PathAttributes):
    delay_ms: float = 0.0
    jitter_ms: float = 0.0


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
