"""Delivers spooled line protocol with influxdb-client's synchronous write API (gzip)."""

from __future__ import annotations

from influxdb_client import InfluxDBClient, WritePrecision
from influxdb_client.client.write_api import SYNCHRONOUS

from chaosbench.analysis.influx.config import InfluxConfig


class Sender:
    """One InfluxDB client; ``write`` raises on any refusal or timeout (no hidden retries)."""

    def __init__(self, config: InfluxConfig) -> None:
        self.config = config
        self._client = InfluxDBClient(
            url=config.url,
            token=config.token,
            org=config.org,
            timeout=int(config.timeout_s * 1000),
            enable_gzip=True,
            retries=False,
        )
        self._write = self._client.write_api(write_options=SYNCHRONOUS)

    def write(self, text: str) -> None:
        self._write.write(
            bucket=self.config.bucket,
            org=self.config.org,
            record=text,
            write_precision=WritePrecision.MS,  # type: ignore[arg-type]
        )

    def close(self) -> None:
        try:
            self._client.close()
        except Exception:  # closing a client whose server is gone must not fail the run
            pass


def describe_error(exc: BaseException) -> str:
    """A one-line description without headers or bodies (nothing that could hold the token)."""
    status = getattr(exc, "status", None)
    if status:
        return f"HTTP {status}"
    reason = getattr(exc, "reason", None)
    return f"{type(exc).__name__}: {reason or exc}".splitlines()[0][:200]
