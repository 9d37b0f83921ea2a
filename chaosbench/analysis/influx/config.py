"""InfluxDB connection settings from options and environment variables (the token is never
printed, logged nor stored in the run directory; a password in the URL is masked wherever the
URL is shown: ``public()``, ``shown_url``, the errors)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from chaosbench.ground.errors import OptionError
from chaosbench.ground.redact import redact
from chaosbench.ground.text import short_repr

#: option name -> environment variables, in order of precedence after the option itself.
ENV = {
    "url": ("INFLUX_URL", "LOCUST_INFLUX_URL"),
    "org": ("INFLUX_ORG", "LOCUST_INFLUX_ORG"),
    "bucket": ("INFLUX_BUCKET", "LOCUST_INFLUX_BUCKET"),
    "token": ("INFLUX_TOKEN", "LOCUST_INFLUX_TOKEN"),
}


def from_env(name: str) -> str | None:
    for var in ENV[name]:
        value = os.environ.get(var)
        if value:
            return value
    return None


@dataclass(frozen=True)
class InfluxConfig:
    url: str
    org: str
    bucket: str
    token: str = field(repr=False)
    timeout_s: float = 5.0

    @property
    def shown_url(self) -> str:
        """The URL as it may be printed or stored: its password masked."""
        return redact(self.url)

    def public(self) -> dict[str, str]:
        """What may be printed or stored: everything but the token, the URL's password masked."""
        return {"url": self.shown_url, "org": self.org, "bucket": self.bucket}

    @classmethod
    def build(
        cls,
        url: str | None,
        org: str | None,
        bucket: str | None,
        token: str | None,
        timeout_s: float = 5.0,
    ) -> InfluxConfig | None:
        """None when no URL is given (streaming off); ``OptionError`` when it is incomplete."""
        url = url or from_env("url")
        if not url:
            return None
        try:
            parts = urlsplit(url)
            ok = parts.scheme in ("http", "https") and bool(parts.hostname) and parts.port != 0
        except ValueError:  # a port that is no number
            ok = False
        if not ok:
            shown = short_repr(redact(url))
            raise OptionError(f"--influx-url {shown}: expected http(s)://host[:port]")
        values = {
            "org": org or from_env("org"),
            "bucket": bucket or from_env("bucket"),
            "token": token or from_env("token"),
        }
        missing = [k for k, v in values.items() if not v]
        if missing:
            names = ", ".join(f"--influx-{k} (or {ENV[k][0]})" for k in missing)
            raise OptionError(f"--influx-url is set but {names} missing")
        if timeout_s <= 0:
            raise OptionError(f"influx timeout {timeout_s}: must be positive")
        return cls(
            url=url.rstrip("/"),
            org=str(values["org"]),
            bucket=str(values["bucket"]),
            token=str(values["token"]),
            timeout_s=timeout_s,
        )
